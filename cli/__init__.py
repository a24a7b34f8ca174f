"""The `ledger` command line: thin click commands over the ledger application."""
