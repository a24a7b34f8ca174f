"""The ledger application (`app.py`), its read-only reader (`reader.py`, for `ledger audit`:
the database's driver alone) and its rooms, one sub-package per concern.

Dependencies point one way: `cli` -> `ledger.app` -> the rooms below -> `projections`,
`aggregates`. A room may use `bulk` and `storage`; no room imports `cli`.
- `storage/`: database URLs, append-only triggers, raw rows, bulk writes, event JSON, what
  counts as an existing ledger.
- `integrity/`: the hash chain, its recorder, verify, EQA bundles, the ledger id, signed
  checkpoints and countersignatures.
- `privacy/`: master and learner keys, sealing, erasure, retention, roles, redaction.
- `rules/`: awarding-body rule sets (TOML) and working-day calendars.
- `reporting/`: report tables, catch-up, rebuild, as-at replays.
- `imports/`: CSV and ILR XML imports, LRS batch files.
- `web/`: the read-only web app (`ledger serve`) and the printable HTML reports.
- `bulk/`: worker processes, GC pauses, prefetching and progress shared by bulk passes.
"""
