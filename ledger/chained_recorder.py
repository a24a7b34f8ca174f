"""A persistence module whose application recorder hash-chains every event it stores.

Name it as PERSISTENCE_MODULE (`ledger.chained_recorder`): the library resolves `Factory` here.
The chain row of each event is written in the same transaction as the event, after the library
has locked the events table (PostgreSQL `LOCK TABLE ... IN EXCLUSIVE MODE`) or taken SQLite's
write lock (`BEGIN IMMEDIATE`), so concurrent writers, in any number of processes, queue up
behind one another and the chain has no forks and no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy import factory as library_factory
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from ledger.chain import GENESIS, content_hash, link_hash

_METADATA = MetaData()
_TABLES: dict[tuple[str | None, str], Table] = {}


def hashes_table_name(events_table_name: str) -> str:
    """`ledger_events` -> `ledger_event_hashes` (and `stored_events` -> `stored_event_hashes`)."""
    return events_table_name.removesuffix("s") + "_hashes"


def hashes_table(name: str, schema: str | None = None) -> Table:
    """The chain table: one row per event, keyed by the event's position."""
    key = (schema, name)
    if key not in _TABLES:
        integer = BigInteger().with_variant(Integer(), "sqlite")
        _TABLES[key] = Table(
            name, _METADATA,
            Column("position", integer, primary_key=True, autoincrement=False),
            Column("seq", integer, nullable=False, unique=True),
            Column("content_hash", String(64), nullable=False),
            Column("hash", String(64), nullable=False),
            schema=schema,
        )
    return _TABLES[key]


class ChainedApplicationRecorder(SQLAlchemyApplicationRecorder):
    """The library's SQLAlchemy application recorder, plus a hash chain in the same transaction."""

    def __init__(
        self, datastore: SQLAlchemyDatastore, *, events_table_name: str,
        schema_name: str | None = None,
    ) -> None:
        super().__init__(
            datastore, events_table_name=events_table_name, schema_name=schema_name
        )
        self.hashes_table = hashes_table(hashes_table_name(events_table_name), schema_name)
        self.tables.append(self.hashes_table)

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        self._take_sqlite_write_lock(session)
        positions = super()._insert_stored_events(session, stored_events, **kwargs)
        if not stored_events:
            return positions
        table = self.hashes_table
        head = session.execute(
            select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
        ).first()
        seq, previous = (head.seq, head.hash) if head is not None else (0, GENESIS)
        rows = []
        for position, event in zip(positions, stored_events, strict=True):
            seq += 1
            content = content_hash(
                event.originator_id, event.originator_version, event.topic, event.state
            )
            previous = link_hash(previous, seq, position, content)
            rows.append(
                {"position": position, "seq": seq, "content_hash": content, "hash": previous}
            )
        session.execute(insert(table), rows)
        return positions

    def _take_sqlite_write_lock(self, session: Session) -> None:
        """On SQLite, start the writing transaction with BEGIN IMMEDIATE.

        A deferred transaction that read the chain head before another process committed could
        not upgrade to a write lock (SQLITE_BUSY, no retry); taking the write lock first makes
        every writer wait its turn (up to the driver's busy timeout) and then read a fresh head.
        """
        engine = self.datastore.engine
        if engine is None or engine.dialect.name != "sqlite":
            return
        connection = session.connection()
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Factory(library_factory.SQLAlchemyFactory):  # the module's only factory class
    """eventsourcing-sqlalchemy's factory, with the chained application recorder."""

    application_recorder_class = ChainedApplicationRecorder
