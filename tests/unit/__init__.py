"""Unit tests: aggregates, values and rules in memory."""
