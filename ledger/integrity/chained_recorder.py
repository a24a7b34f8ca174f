"""A persistence module whose application recorder hash-chains every event it stores.

Name it as PERSISTENCE_MODULE (`ledger.integrity.chained_recorder`): the library resolves
`Factory` here.
The chain row of each event is written in the same transaction as the event, after the library
has locked the events table (PostgreSQL `LOCK TABLE ... IN EXCLUSIVE MODE`) or taken SQLite's
write lock (`BEGIN IMMEDIATE`), so concurrent writers, in any number of processes, queue up
behind one another and the chain has no forks and no gaps. Each entry is stamped with the
login that recorded the event and the time, taken after the lock: on PostgreSQL the server
computes and stamps the entries itself (`ledger.integrity.server_chain`, a trigger: the
client's word counts for nothing), on SQLite this recorder does, with the OS user.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing_sqlalchemy import factory as library_factory
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
)
from sqlalchemy.orm import Session

from ledger.integrity.chain import GENESIS, chain_values, content_digest, content_hash, framed_id
from ledger.integrity.server_chain import install_server_chain
from ledger.storage.bulk_writes import copy_stream, copy_text
from ledger.storage.persistence import create_tables_once, owner_upgrade, widen_sqlite_cache
from ledger.storage.raw_rows import placeholder, uuid_text

_METADATA = MetaData()
_TABLES: dict[tuple[str | None, str], Table] = {}
CHAIN_COLUMNS = 6  # position, seq, content_hash, hash, recorded_by, recorded_at_us: one row
T = TypeVar("T")
R = TypeVar("R")
_NOTHING = object()  # no value yet, not even None


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
            Column("seq", integer, nullable=False),
            Column("content_hash", String(64), nullable=False),
            Column("hash", String(64), nullable=False),
            # the stamp: who recorded the event (PostgreSQL login, SQLite OS user) and when
            # (microseconds since 1970-01-01 UTC); NULL on entries chained before stamps
            Column("recorded_by", String(), nullable=True),
            Column("recorded_at_us", integer, nullable=True),
            schema=schema,
        )
    return _TABLES[key]


@dataclass
class PackedEvents:
    """A batch of stored events as the database driver takes them, with their content hashes.

    Plain values only (no UUID or StoredEvent objects), so a batch encoded in one process
    crosses to the process storing it cheaply, and is stored as it is. Made by
    `ChainedApplicationRecorder.pack`, for that recorder's database.
    """

    rows: list[Any] = field(default_factory=list)  # SQLite: parameters; PostgreSQL: COPY lines
    hashes: list[str] = field(default_factory=list)  # one content hash per row, for the chain

    def __len__(self) -> int:
        return len(self.rows)

    def extend(self, other: PackedEvents) -> None:
        self.rows.extend(other.rows)
        self.hashes.extend(other.hashes)


class ChainedApplicationRecorder(SQLAlchemyApplicationRecorder):
    """The library's SQLAlchemy application recorder, plus a hash chain in the same transaction."""

    CHUNK = 200  # chain rows per INSERT statement

    def __init__(
        self, datastore: SQLAlchemyDatastore, *, events_table_name: str,
        schema_name: str | None = None,
    ) -> None:
        super().__init__(
            datastore, events_table_name=events_table_name, schema_name=schema_name
        )
        self.hashes_table = hashes_table(hashes_table_name(events_table_name), schema_name)
        self.tables.append(self.hashes_table)
        name = self.hashes_table.name
        if schema_name:
            name = f"{schema_name}.{name}"
        assert datastore.engine is not None
        self._is_sqlite = datastore.engine.dialect.name == "sqlite"
        self._marker = placeholder(datastore.engine)
        dbapi = datastore.engine.dialect.dbapi
        self._dbapi_error: type[Exception] = dbapi.Error  # type: ignore[union-attr]
        self._dbapi_integrity_error: type[Exception] = dbapi.IntegrityError  # type: ignore[union-attr]
        self._head_sql = (f"SELECT seq, hash, recorded_at_us FROM {name} "
                          "ORDER BY position DESC LIMIT 1")
        self._head_hash_sql = f"SELECT hash FROM {name} ORDER BY position DESC LIMIT 1"
        self._last_head: Head | None = None  # (seq, hash, recorded_at_us) last written here
        self._insert_sql = (f"INSERT INTO {name} (position, seq, content_hash, hash, "
                            "recorded_by, recorded_at_us) VALUES ")
        events = self.events_record_cls.__table__
        events_name = f"{schema_name}.{events.name}" if schema_name else events.name
        self._max_id_sql = f"SELECT max(id) FROM {events_name}"
        self._new_ids_sql = f"SELECT count(*), max(id) FROM {events_name} WHERE id > ?"
        self._ids_after_sql = f"SELECT id FROM {events_name} WHERE id > %s ORDER BY id"
        self._copy_events_sql = (f"COPY {events_name} (originator_id, originator_version, "
                                 "topic, state) FROM STDIN")
        self._sqlite_insert_sql = (f"INSERT INTO {events_name} (originator_id, "
                                   "originator_version, topic, state) VALUES (?, ?, ?, ?)")
        bind = (events.c.originator_id.type.bind_processor(datastore.engine.dialect)
                or (lambda value: value))

        # the column's own conversion of an aggregate id (16 bytes on SQLite), as plain
        # bytes: the driver's memoryview would not pickle. An aggregate's events come in
        # runs, so each id is converted once.
        @lru_cache(maxsize=4096)
        def uuid_bind(value: Any) -> bytes:
            return bytes(bind(value))

        self._uuid_bind = uuid_bind

    def select_events(
        self, originator_id: UUID | str, gt: int | None = None, lte: int | None = None,
        desc: bool = False, limit: int | None = None,
    ) -> list[StoredEvent]:
        """The library's query of one aggregate's events, in the library's transaction, as
        Core rows rather than an ORM object per event (about half of a small aggregate's
        load on PostgreSQL went to the ORM)."""
        table = self.events_record_cls.__table__
        version = table.c.originator_version
        query = select(table.c.originator_id, version, table.c.topic, table.c.state).where(
            table.c.originator_id == originator_id)
        if gt is not None:
            query = query.where(version > gt)
        if lte is not None:
            query = query.where(version <= lte)
        query = query.order_by(version.desc() if desc else version)
        if limit is not None:
            query = query.limit(limit)
        with self.transaction(commit=False) as session:
            rows = session.execute(query).all()
        return [StoredEvent(originator_id=row[0], originator_version=row[1], topic=row[2],
                            state=bytes(row[3]) if isinstance(row[3], memoryview) else row[3])
                for row in rows]

    def create_table(self) -> None:
        """Create the tables; a chain table created now chains the events already there.

        Only a chain table created now: one that exists but was emptied is tampering, for
        `verify` to report, not something to paper over.
        """
        assert self.datastore.engine is not None
        is_new = not inspect(self.datastore.engine).has_table(
            self.hashes_table.name, schema=self.schema_name
        )
        create_tables_once(super().create_table)
        self._add_stamp_columns()
        if is_new and self._has_unchained_events():
            self._chain_existing_events()
        if not self._is_sqlite:
            with owner_upgrade("the server-side chain"), \
                    self.datastore.engine.begin() as connection:
                install_server_chain(connection, self.events_record_cls.__table__.name,
                                     self.hashes_table.name)

    def _add_stamp_columns(self) -> None:
        """A chain table made before stamps gets their columns (empty on its old entries)."""
        assert self.datastore.engine is not None
        columns = {column["name"] for column in inspect(self.datastore.engine).get_columns(
            self.hashes_table.name, schema=self.schema_name)}
        table = self.hashes_table.name
        if self.schema_name:
            table = f"{self.schema_name}.{table}"
        missing = [(name, kind) for name, kind in (("recorded_by", "TEXT"),
                                                   ("recorded_at_us", "BIGINT"))
                   if name not in columns]
        if missing:
            with owner_upgrade("the chain's stamp columns"), \
                    self.datastore.engine.begin() as connection:
                for name, kind in missing:
                    connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def _has_unchained_events(self) -> bool:
        record = self.events_record_cls
        with self.transaction(commit=False) as session:
            no_chain = session.execute(
                select(self.hashes_table.c.position).limit(1)).first() is None
            return no_chain and session.query(record.id).limit(1).first() is not None

    def _chain_existing_events(self) -> None:
        """Chain a ledger recorded before the chain existed, once, from its current state."""
        record = self.events_record_cls
        with self.transaction(commit=True) as session:
            if self._is_sqlite:
                self._take_sqlite_write_lock(session)
            else:
                self._lock_table(session)
            if session.execute(select(self.hashes_table.c.position).limit(1)).first():
                return
            after = 0
            while True:
                rows = (session.query(record).filter(record.id > after).order_by(record.id)
                        .limit(1000).all())
                if not rows:
                    return
                self._chain(session, [row.id for row in rows], [
                    content_hash(row.originator_id, row.originator_version, row.topic,
                                 bytes(row.state))
                    for row in rows
                ])
                after = rows[-1].id
                session.expunge_all()

    def pack(self, stored_events: Sequence[StoredEvent],
             contents: Sequence[str] | None = None) -> PackedEvents:
        """Stored events in the form this database's driver takes them, with their content
        hashes (worked out here unless given, one per event)."""
        hashes = content_hashes(stored_events) if contents is None else list(contents)
        if len(hashes) != len(stored_events):
            raise ValueError(f"{len(hashes)} content hash(es) given for "
                             f"{len(stored_events)} stored event(s)")
        if not self._is_sqlite:
            return PackedEvents(_events_for_copy(stored_events), hashes)
        ids = in_runs([event.originator_id for event in stored_events], self._uuid_bind)
        return PackedEvents([(bound, event.originator_version, event.topic, event.state)
                             for bound, event in zip(ids, stored_events, strict=True)], hashes)

    def insert_packed(self, packed: PackedEvents, session: Session | None = None) -> list[int]:
        """Store packed events as `insert_events` stores stored events: in a transaction of
        their own, or in the session's; their positions (notification ids)."""
        if session is not None:
            return self._insert_packed(session, packed)
        with self.transaction(commit=True) as own:
            return self._insert_packed(own, packed)

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events or not self._has_autoincrementing_ids:
            if self._is_sqlite:
                self._take_sqlite_write_lock(session)
            return super()._insert_stored_events(session, stored_events, **kwargs)
        return self._insert_packed(session, self.pack(stored_events, kwargs.get("content_hashes")))

    def _insert_packed(self, session: Session, packed: PackedEvents) -> list[int]:
        if self._is_sqlite:
            self._take_sqlite_write_lock(session)
            if len(packed.rows) > self.CHUNK:
                widen_sqlite_cache(session)
        if not packed.rows:
            return []
        positions = self._bulk_insert(session, packed.rows)
        self._notify_channel(session)
        if self._is_sqlite:  # PostgreSQL's trigger has chained them (server_chain)
            self._chain(session, positions, packed.hashes)
        return positions

    def _bulk_insert(self, session: Session, rows: Sequence[Any]) -> list[int]:
        """One bulk insert for the whole batch, not an ORM object and flush per event.

        The library adds one ORM record per event and flushes; a bulk insert gives the same
        rows at a fraction of the cost. The table is locked first, as the library does, so
        this transaction is the only one inserting: each new row's id is then larger than
        the largest id before it, in insertion order, and the batch's ids are the ids above
        that one. The rows go straight to the driver, as `pack` made them: PostgreSQL's
        COPY, SQLite's executemany. That the batch got exactly the ids above the largest one
        before it is checked, not assumed.
        """
        self._lock_table(session)
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(self._max_id_sql)
            before = cursor.fetchone()[0] or 0
            if self._is_sqlite:
                ids = self._sqlite_insert(cursor, rows, before)
            else:
                ids = self._postgres_copy(cursor, rows, before)
        except self._dbapi_integrity_error as error:  # an aggregate's version is taken
            raise IntegrityError(error) from error
        except self._dbapi_error as error:
            raise OperationalError(f"could not insert the events: {error}") from error
        finally:
            cursor.close()
        if len(ids) != len(rows) or (ids and ids[0] <= before):
            raise OperationalError("another writer inserted events during this transaction")
        return ids

    def _sqlite_insert(self, cursor: Any, rows: Sequence[tuple[Any, ...]],
                       before: int) -> list[int]:
        cursor.executemany(self._sqlite_insert_sql, rows)
        cursor.execute(self._new_ids_sql, (before,))
        count, last = cursor.fetchone()
        return list(range(before + 1, last + 1)) if count and count == last - before else []

    def _postgres_copy(self, cursor: Any, lines: Sequence[str], before: int) -> list[int]:
        cursor.copy_expert(self._copy_events_sql, copy_stream(lines))
        cursor.execute(self._ids_after_sql, (before,))
        return [row[0] for row in cursor.fetchall()]

    def _chain(self, session: Session, positions: Sequence[int], contents: Sequence[str]) -> None:
        """Append one stamped chain row per event after the head, on the transaction's
        connection (SQLite; and a PostgreSQL ledger chained after the fact, by its owner).

        Plain DB-API statements (as the library does for NOTIFY), not trips through the ORM.
        The head this recorder last wrote is tried first, with an INSERT that only inserts if
        it is still the head: one statement when no other process wrote in between; otherwise
        (or on a first write) the head is read and the rows inserted after it. The stamp is
        the OS user (on PostgreSQL the session's login) and the time now, taken after the
        write lock and never before the head's. `contents`: the events' content hashes.
        """
        cursor = session.connection().connection.cursor()
        try:
            login = self._login(cursor)
            guess = self._last_head
            if guess is not None and len(contents) <= self.CHUNK:
                values = chain_values(guess[:2], positions, contents, login,
                                      _now_us(guess[2]))
                cursor.execute(self._guarded_insert_sql(len(contents)), [*values, guess[1]])
                if cursor.rowcount == len(contents):
                    self._last_head = _new_head(values)
                    return
            cursor.execute(self._head_sql)
            head = _head(cursor.fetchone())
            values = chain_values(head[:2], positions, contents, login, _now_us(head[2]))
            per_statement = CHAIN_COLUMNS * self.CHUNK
            for start in range(0, len(values), per_statement):
                chunk = values[start:start + per_statement]
                cursor.execute(self._insert_sql + self._values(len(chunk) // CHAIN_COLUMNS),
                               chunk)
            self._last_head = _new_head(values)
        except self._dbapi_error as error:
            raise OperationalError(f"could not extend the hash chain: {error}") from error
        finally:
            cursor.close()

    def _login(self, cursor: Any) -> str:
        if self._is_sqlite:
            return os_user()
        cursor.execute("SELECT session_user")
        return str(cursor.fetchone()[0])

    def _values(self, count: int) -> str:
        marker = self._marker
        row = "(" + ",".join([marker] * CHAIN_COLUMNS) + ")"
        return ",".join([row] * count)

    def _guarded_insert_sql(self, count: int) -> str:
        return (f"{self._insert_sql.removesuffix(' VALUES ')} SELECT * FROM "
                f"(VALUES {self._values(count)}) AS new_rows WHERE ({self._head_hash_sql}) = "
                f"{self._marker}")

    def _take_sqlite_write_lock(self, session: Session) -> None:
        """On SQLite, start the writing transaction with BEGIN IMMEDIATE.

        A deferred transaction that read the chain head before another process committed could
        not upgrade to a write lock (SQLITE_BUSY, no retry); taking the write lock first makes
        every writer wait its turn (up to the driver's busy timeout) and then read a fresh head.
        """
        dbapi_connection = session.connection().connection.dbapi_connection
        if dbapi_connection is not None and not dbapi_connection.in_transaction:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
            except self._dbapi_error as error:
                raise OperationalError(f"could not take the write lock: {error}") from error


Head = tuple[int, str, int]  # the chain head's seq, hash and recorded time (µs)


def os_user() -> str:
    """The OS user running this process: the recording login of an SQLite ledger."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's bare uid)
        return f"uid {os.getuid()}"


def _now_us(not_before: int) -> int:
    """The time now in microseconds since 1970 UTC, never before the chain head's stamp."""
    return max(time.time_ns() // 1000, not_before)


def _new_head(values: Sequence[Any]) -> Head:
    """(seq, hash, recorded_at_us) of the last link of `chain_values`' flat list."""
    return values[-5], values[-3], values[-1]


def content_hashes(stored_events: Sequence[StoredEvent]) -> list[str]:
    """Each stored event's content hash. A caller of `insert_events` may work them out
    beforehand (in worker processes, say) and pass them as `content_hashes=`; `ledger verify`
    works every one out again from the stored event."""
    framed = in_runs([event.originator_id for event in stored_events], framed_originator)
    return [content_digest(originator, event.originator_version, event.topic, event.state).hex()
            for originator, event in zip(framed, stored_events, strict=True)]


def framed_originator(originator_id: Any) -> bytes:
    """An aggregate id as a stored event or a driver's row holds it (a UUID, its text or its
    16 bytes), framed for `content_digest`."""
    return framed_id(uuid_text(originator_id))


def in_runs(values: Sequence[T], convert: Callable[[T], R]) -> list[R]:
    """`convert` of each value, worked out once for each run of the same object: a batch
    holds each aggregate's events together, sharing one id object, so its id is converted
    once (for a bulk import's hundreds of thousands of events)."""
    converted: list[R] = []
    last: Any = _NOTHING
    result: Any = None
    for value in values:
        if value is not last:
            last, result = value, convert(value)
        converted.append(result)
    return converted


def _head(row: Any) -> Head:
    """(seq, hash, recorded_at_us) of the chain's head row, or the genesis's."""
    return (int(row[0]), str(row[1]), int(row[2] or 0)) if row is not None else (0, GENESIS, 0)


def _events_for_copy(stored_events: Sequence[StoredEvent]) -> list[str]:
    """Stored events as COPY text lines (originator_id, originator_version, topic, state)."""
    return [f"{event.originator_id}\t{event.originator_version}\t{copy_text(event.topic)}\t"
            f"{copy_text(event.state)}\n" for event in stored_events]


class Factory(library_factory.SQLAlchemyFactory):  # the module's only factory class
    """eventsourcing-sqlalchemy's factory, with the chained application recorder."""

    application_recorder_class = ChainedApplicationRecorder
