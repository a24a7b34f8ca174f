"""Integration tests of ledger/reporting/ on SQLite and PostgreSQL."""
