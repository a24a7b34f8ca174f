"""Integration tests of ledger/privacy/ on SQLite and PostgreSQL."""
