"""Per-learner keys: created on a learner's first personal data, wrapped by the master key.

The reading side (`key_reading.KeyReading`) needs no SQLAlchemy; this store, which also
creates the tables and writes keys, reads and writes through it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine

from ledger.privacy.crypto import (
    KEYGEN_HINT,
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    ErasureNotPermitted,
    KeyUnavailable,
    LearnerErased,
    MasterKeySource,
    OpenFailed,
    WrongMasterKey,
    new_key,
    seal,
    unseal,
)
from ledger.privacy.key_reading import (
    CHECK_CONTEXT,
    CHECK_PLAINTEXT,
    CHECK_TABLE,
    ENCRYPTED,
    ERASED,
    KEYS_TABLE,
    MAY_READ_SQL,
    PRELOAD_AFTER,
    KeyReading,
    key_context,
)
from ledger.storage.persistence import create_tables_once

__all__ = ["CHECK_TABLE", "ENCRYPTED", "ERASED", "KEYS_TABLE", "PRELOAD_AFTER", "KeyStore",
           "check_can_erase", "learner_keys", "master_key_check", "scrub"]

metadata = MetaData()
learner_keys = Table(
    KEYS_TABLE, metadata,
    Column("learner_id", String(36), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased", Boolean, nullable=False, default=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
)
master_key_check = Table(
    CHECK_TABLE, metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", LargeBinary, nullable=False),
)

MADE_KEYS_KEPT = 20_000  # keys a bulk import made lately, kept until surely stored


def insert_ignoring_duplicates(engine: Engine | Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


class KeyStore(KeyReading):
    """The table of learner keys, through SQLAlchemy: created, written and read."""

    def __init__(self, engine: Callable[[], Engine], source: MasterKeySource) -> None:
        super().__init__(source)
        self._engine = engine
        self._ready = False
        self._writing: bytes | None = None

    def create_tables(self) -> None:
        """Create the key tables if they are missing."""
        create_tables_once(lambda: metadata.create_all(self._engine(), checkfirst=True))
        self._ready = True

    @property
    def engine(self) -> Engine:
        if not self._ready:
            self.create_tables()
        return self._engine()

    # ----- the master key -------------------------------------------------------------------

    def _may_read_rows(self) -> bool:
        engine = self.engine
        if engine.dialect.name != "postgresql":
            return True
        with engine.connect() as connection:
            return bool(connection.exec_driver_sql(
                MAY_READ_SQL, {"keys": KEYS_TABLE, "check": CHECK_TABLE}).scalar())

    def _token_row(self) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(master_key_check.c.token).where(master_key_check.c.id == 1)
            ).scalar()

    def _all_rows(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(learner_keys)).all())

    def _rows_of(self, learners: list[UUID]) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(learner_keys).where(
                learner_keys.c.learner_id.in_([str(learner) for learner in learners]))).all())

    def master_for_writing(self) -> bytes:
        """The master key, checked against this ledger; created next to a new SQLite file."""
        if self._writing is not None:
            return self._writing
        token = self._check_token()
        master = self.source.load(create=token is None)
        if master is None:
            raise KeyUnavailable(
                f"no master key to protect personal data: set {MASTER_KEY_ENV} or "
                f"{MASTER_KEY_FILE_ENV} ({KEYGEN_HINT})"
            )
        if token is None:
            with self.engine.begin() as connection:
                connection.execute(
                    insert_ignoring_duplicates(connection, master_key_check),
                    {"id": 1, "token": seal(master, CHECK_PLAINTEXT, CHECK_CONTEXT)},
                )
            token = self._check_token()
            assert token is not None
        if not self._opens_token(master, token):
            raise WrongMasterKey(
                f"the master key from {self.source.describe()} is not this ledger's master key"
            )
        self._reading = (master,)
        self._writing = master
        return master

    # ----- learner keys ---------------------------------------------------------------------

    def _row(self, learner: UUID) -> Any:
        if not self.may_read_keys():
            return None
        with self.engine.connect() as connection:
            return connection.execute(
                select(learner_keys).where(learner_keys.c.learner_id == str(learner))
            ).first()

    def key_for_writing(self, learner: UUID) -> bytes:
        """The learner's key, created (idempotently) on their first personal data."""
        cached = self._keys.get(learner)
        if isinstance(cached, bytes):
            return cached
        master = self.master_for_writing()
        with self.engine.begin() as connection:
            connection.execute(insert_ignoring_duplicates(connection, learner_keys),
                               _key_row(master, learner, new_key(), datetime.now(UTC)))
        row = self._row(learner)
        if row.erased:
            raise LearnerErased(f"learner {learner} was erased: no personal data can be recorded")
        return self._open_row(master, row)

    def open_or_make(self, learners: Collection[UUID],
                     made: OrderedDict[UUID, bytes]) -> list[dict[str, Any]]:
        """Ready many learners' keys for sealing without writing anything (bulk import).

        Keys stored are opened (an erased learner's is not: sealing then refuses them, as
        `key_for_writing` does); keys this caller made earlier and not stored yet (in
        `made`) are used again; the others are made now and added to `made`. Returns the
        rows of the keys made now, for `store_new_keys` in the transaction that stores the
        events they seal. If another writer stores a key for one of these learners first,
        that transaction fails: no key is overwritten, and no event is sealed with a key
        that was never stored.
        """
        wanted = [learner for learner in learners
                  if not isinstance(self._keys.get(learner), bytes)]
        if not wanted:
            return []
        master = self.master_for_writing()
        with self.engine.connect() as connection:
            stored = {UUID(row.learner_id): row for row in _key_rows(connection, wanted)}
        now = datetime.now(UTC)
        new_rows = []
        for learner in wanted:
            row = stored.get(learner)
            if row is not None:
                if not row.erased:
                    self._open_row(master, row)
            elif learner in made:  # made for an earlier batch still on its way to storing
                self._keys[learner] = made[learner]
            else:
                key = new_key()
                new_rows.append(_key_row(master, learner, key, now))
                made[learner] = self._keys[learner] = key
        while len(made) > MADE_KEYS_KEPT:
            made.popitem(last=False)
        return new_rows

    @staticmethod
    def store_new_keys(connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Store keys made by `open_or_make`, in the caller's transaction; IntegrityError
        if any learner has a key already."""
        if rows:
            connection.execute(learner_keys.insert(), rows)

    def _open_row(self, master: bytes, row: Any) -> bytes:
        """Open a stored key with the master key, and cache it."""
        learner = UUID(row.learner_id)
        try:
            key = unseal(master, bytes(row.wrapped_key), key_context(learner))
        except OpenFailed:
            raise WrongMasterKey(f"the key of learner {learner} cannot be opened") from None
        self._keys[learner] = key
        return key

    def destroy(self, learner: UUID) -> bool:
        """Crypto-shred: destroy the learner's key and scrub its bytes; True if one existed."""
        self._keys[learner] = ERASED
        row = self._row(learner)
        if row is not None and row.erased:
            return False
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.execute(text("PRAGMA secure_delete = ON"))
            if row is None:
                connection.execute(
                    insert_ignoring_duplicates(connection, learner_keys),
                    {"learner_id": str(learner), "wrapped_key": None, "created_at": now,
                     "erased": True, "erased_at": now},
                )
            connection.execute(
                update(learner_keys).where(learner_keys.c.learner_id == str(learner))
                .values(wrapped_key=None, erased=True, erased_at=now)
            )
        scrub(self.engine, [KEYS_TABLE])
        return row is not None

    def erased_learners(self) -> set[UUID]:
        """Every learner whose key was destroyed (none that this login may see)."""
        if not self.may_read_keys():
            return set()
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(learner_keys.c.learner_id).where(learner_keys.c.erased.is_(True))
            ).all()
        return {UUID(row.learner_id) for row in rows}


def check_can_erase(engine: Engine) -> None:
    """On PostgreSQL only the key table's owner (or a superuser) can destroy and scrub keys."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        allowed = connection.execute(text(
            "SELECT r.rolsuper OR pg_has_role(current_user, t.tableowner, 'MEMBER') "
            "FROM pg_roles r, pg_tables t WHERE r.rolname = current_user "
            "AND t.schemaname = current_schema() AND t.tablename = :table"
        ), {"table": KEYS_TABLE}).scalar()
    if not allowed:
        raise ErasureNotPermitted(
            "erasure destroys keys and scrubs the key table: run it as the ledger's owner"
        )


def scrub(engine: Engine, tables: list[str]) -> None:
    """Leave no copy of deleted bytes: VACUUM and truncate the WAL (SQLite), VACUUM FULL (PG)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA secure_delete = ON")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("VACUUM")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            for table in tables:
                connection.exec_driver_sql(f"VACUUM FULL {table}")


def _key_row(master: bytes, learner: UUID, key: bytes, now: datetime) -> dict[str, Any]:
    """A new key's row: the key sealed with the master key, bound to its learner."""
    return {"learner_id": str(learner), "wrapped_key": seal(master, key, key_context(learner)),
            "created_at": now, "erased": False}


def _key_rows(connection: Connection, learners: list[UUID]) -> list[Any]:
    return list(connection.execute(select(learner_keys).where(
        learner_keys.c.learner_id.in_([str(learner) for learner in learners]))).all())
