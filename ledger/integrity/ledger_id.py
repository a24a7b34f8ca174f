"""The ledger id: a random id stored once, at set-up, in a small append-only metadata table,
so that checkpoints can tell one ledger from another (a replaced file, a restored copy)."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from ledger.storage.persistence import install_append_only_triggers

METADATA_TABLE = "ledger_metadata"
LEDGER_ID = "ledger_id"


def ensure_ledger_id(engine: Engine) -> str:
    """The ledger's id, made (with its table) the first time a ledger is set up."""
    if not inspect(engine).has_table(METADATA_TABLE):
        with engine.begin() as connection:
            connection.execute(text(
                f"CREATE TABLE IF NOT EXISTS {METADATA_TABLE} "
                "(name VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)"))
        install_append_only_triggers(engine, (METADATA_TABLE,))
    found = ledger_id(engine)
    if found is not None:
        return found
    with engine.begin() as connection:  # another process may insert it at the same moment
        connection.execute(text(
            f"INSERT INTO {METADATA_TABLE} (name, value) VALUES (:name, :value) "
            "ON CONFLICT (name) DO NOTHING"), {"name": LEDGER_ID, "value": str(uuid4())})
    found = ledger_id(engine)
    assert found is not None
    return found


def ledger_id(engine: Engine) -> str | None:
    """The stored ledger id, or None when the ledger has none (its table dropped, say)."""
    if not inspect(engine).has_table(METADATA_TABLE):
        return None
    with engine.connect() as connection:
        return connection.execute(
            text(f"SELECT value FROM {METADATA_TABLE} WHERE name = :name"),
            {"name": LEDGER_ID}).scalar()
