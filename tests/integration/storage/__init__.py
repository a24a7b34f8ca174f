"""Integration tests of ledger/storage/ on SQLite and PostgreSQL."""
