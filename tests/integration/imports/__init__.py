"""Integration tests of ledger/imports/ on SQLite and PostgreSQL."""
