"""Integration tests of the bench scripts on small ledgers."""
