"""Reporting: the report tables and their incremental catch-up (in memory for a login or file
that may not write them), the full rebuild on several cores, stored events decoded for the
fold, and as-at replays.

It runs the pure folds in `projections/` over stored events; it may import `storage`, `bulk`
and `privacy`, and takes the application as an argument.
"""
