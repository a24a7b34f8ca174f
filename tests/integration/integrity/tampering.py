"""Helpers for tamper tests: a small ledger, and raw edits that bypass the append-only triggers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection

from aggregates.learner import Context
from ledger.integrity.chain import GENESIS, content_hash, link_hash
from ledger.integrity.server_chain import trigger_name
from ledger.storage.event_checks import CHECKS_TRIGGER
from ledger.storage.persistence import EVENT_HASHES_TABLE, EVENTS_TABLE

CTX = Context(actor="tester", source="test")


def record_small_ledger(app: Any) -> None:
    """Ten events: three learners at centre C1 (3 events each), then one enrolment."""
    for reference, given in (("L1", "Ann"), ("L2", "Bob"), ("L3", "Cy")):
        app.add_learner(CTX, "C1", reference, given_name=given, family_name="Lee",
                        date_of_birth="2000-01-01", gender="2")
    app.enrol(CTX, "L1", "E1", awarding_body="CG", qualification="600/1234/5", title="Plumbing",
              start="2025-09-01", planned_end="2026-07-01")


def drop_triggers(connection: Connection) -> None:
    """What a database owner can do: remove the append-only triggers."""
    for table in (EVENTS_TABLE, EVENT_HASHES_TABLE):
        if connection.dialect.name == "postgresql":
            for trigger in ("append_only", "no_truncate"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_{trigger} ON {table}"))
        else:
            for trigger in ("no_update", "no_delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_{trigger}"))


def edit_state_byte(app: Any, connection: Connection, position: int) -> None:
    _change_state_byte(app, connection, position, lambda byte: byte ^ 0x01)


def break_state_encoding(app: Any, connection: Connection, position: int) -> None:
    """A stored state's middle byte set to one that no UTF-8 text holds."""
    _change_state_byte(app, connection, position, lambda _: 0xFF)


def _change_state_byte(app: Any, connection: Connection, position: int,
                       change: Callable[[int], int]) -> None:
    events = app.recorder.events_record_cls.__table__
    state = bytearray(connection.execute(
        select(events.c.state).where(events.c.id == position)).scalar_one())
    state[len(state) // 2] = change(state[len(state) // 2])
    connection.execute(update(events).where(events.c.id == position).values(state=bytes(state)))


def delete_event(app: Any, connection: Connection, position: int) -> None:
    connection.execute(text(f"DELETE FROM {EVENTS_TABLE} WHERE id = :p"), {"p": position})


def delete_event_and_link(app: Any, connection: Connection, position: int) -> None:
    delete_event(app, connection, position)
    connection.execute(text(f"DELETE FROM {EVENT_HASHES_TABLE} WHERE position = :p"),
                       {"p": position})


def swap_events(app: Any, connection: Connection, first: int, second: int) -> None:
    for old, new in ((first, -1), (second, first), (-1, second)):
        connection.execute(text(f"UPDATE {EVENTS_TABLE} SET id = :new WHERE id = :old"),
                           {"new": new, "old": old})


def insert_forged_event(app: Any, connection: Connection) -> int:
    """An event inserted behind the chain's back: on PostgreSQL, what only the database owner
    can do, with the server's chaining and checking triggers disabled for the insert."""
    events = app.recorder.events_record_cls.__table__
    postgres = connection.dialect.name == "postgresql"
    triggers = (trigger_name(EVENT_HASHES_TABLE), CHECKS_TRIGGER)
    if postgres:
        for trigger in triggers:
            connection.execute(text(f"ALTER TABLE {EVENTS_TABLE} DISABLE TRIGGER {trigger}"))
    connection.execute(insert(events).values(
        originator_id=uuid4(), originator_version=1,
        topic="aggregates.learner:Learner.Recorded", state=b'{"forged": true}',
    ))
    if postgres:
        for trigger in triggers:
            connection.execute(text(f"ALTER TABLE {EVENTS_TABLE} ENABLE TRIGGER {trigger}"))
    return int(connection.execute(select(events.c.id).order_by(events.c.id.desc())).first()[0])


def truncate_events_after(app: Any, connection: Connection, position: int) -> None:
    connection.execute(text(f"DELETE FROM {EVENTS_TABLE} WHERE id > :p"), {"p": position})


def truncate_both_after(app: Any, connection: Connection, position: int) -> None:
    truncate_events_after(app, connection, position)
    connection.execute(text(f"DELETE FROM {EVENT_HASHES_TABLE} WHERE position > :p"),
                       {"p": position})


def edit_link_hash(app: Any, connection: Connection, position: int) -> None:
    connection.execute(text(f"UPDATE {EVENT_HASHES_TABLE} SET hash = :h WHERE position = :p"),
                       {"h": "f" * 64, "p": position})


def rechain(app: Any, connection: Connection) -> None:
    """What a careful forger does after editing: recompute every chain entry to match."""
    events = app.recorder.events_record_cls.__table__
    hashes = app.recorder.hashes_table
    rows = connection.execute(select(events).order_by(events.c.id)).all()
    previous = GENESIS
    for seq, row in enumerate(rows, start=1):
        content = content_hash(row.originator_id, row.originator_version, row.topic,
                               bytes(row.state))
        stamp = connection.execute(select(hashes.c.recorded_by, hashes.c.recorded_at_us)
                                   .where(hashes.c.position == row.id)).one()
        previous = link_hash(previous, seq, row.id, content, *stamp)
        connection.execute(update(hashes).where(hashes.c.position == row.id)
                           .values(seq=seq, content_hash=content, hash=previous))


def swap_events_and_links(app: Any, connection: Connection, first: int, second: int) -> None:
    swap_events(app, connection, first, second)
    for old, new in ((first, -1), (second, first), (-1, second)):
        connection.execute(
            text(f"UPDATE {EVENT_HASHES_TABLE} SET position = :new WHERE position = :old"),
            {"new": new, "old": old})
