"""Storage: database URLs (`locations`, which loads no database library) and settings, the
database opened through its DB-API driver alone for read-only commands (`dbapi`), append-only
triggers and the checks on new events (`event_checks`), stored rows read raw, bulk writes, the
JSON transcoding of event state, what counts as an existing ledger, and loading the recorder's
library without what it does not use (`recorder_library`).

It owns how bytes reach the database and come back, nothing about what they mean. It imports
only the libraries (SQLAlchemy, eventsourcing, the drivers) and nothing else of ours.
"""
