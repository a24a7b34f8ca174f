"""Integration tests on a real SQLite file and a real PostgreSQL server."""
