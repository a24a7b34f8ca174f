"""End-to-end tests of the `ledger` command line."""
