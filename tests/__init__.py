"""Tests of the compliance ledger."""
