"""Integration tests of ledger/integrity/ on SQLite and PostgreSQL."""
