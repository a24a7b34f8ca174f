"""Reading learner keys: the master-key check, a learner's key opened or its marker, and
why personal data reads `[encrypted]`; with SQL through the DB-API driver (`KeyReader`) for a
read-only command, or through SQLAlchemy (`keys.KeyStore`, which also writes keys)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple
from uuid import UUID

from ledger.privacy.crypto import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    MasterKeySource,
    OpenFailed,
    unseal,
)
from ledger.storage import dbapi

KEYS_TABLE = "ledger_learner_keys"
CHECK_TABLE = "ledger_master_key_check"
CHECK_PLAINTEXT = b"compliance-ledger master key"
CHECK_CONTEXT = b"master-key-check"
ENCRYPTED = "[encrypted]"
ERASED = "[erased]"
PRELOAD_AFTER = 20  # learners read one by one before all key rows are read at once
ROWS_A_QUERY = 500  # key rows read by `hold_only` in one query
MAY_READ_SQL = ("SELECT coalesce(has_table_privilege(to_regclass(%(keys)s), 'SELECT') "
                "AND has_table_privilege(to_regclass(%(check)s), 'SELECT'), false)")


class KeyRow(NamedTuple):
    """A learner's key row as the reading side uses it."""

    learner_id: str
    wrapped_key: Any  # bytes (or a driver's buffer); None once erased
    erased: Any  # truthy once erased


def key_context(learner: UUID) -> bytes:
    """What a learner's key is sealed to: its learner."""
    return f"learner-key:{learner}".encode()


class KeyReading:
    """The keys' reading side; keys are unwrapped once per process and cached. Subclasses
    say how the rows are read (`_may_read_rows`, `_token_row`, `_row`, `_all_rows`)."""

    def __init__(self, source: MasterKeySource) -> None:
        self.source = source
        self._keys: dict[UUID, bytes | str] = {}
        self._reading: tuple[bytes | None] | None = None
        self._preloaded: dict[UUID, Any] | None = None
        self._reads = 0
        self._may_read: bool | None = None

    # ----- how rows are read ----------------------------------------------------------------

    def _may_read_rows(self) -> bool:
        raise NotImplementedError

    def _token_row(self) -> Any:
        raise NotImplementedError

    def _row(self, learner: UUID) -> Any:
        raise NotImplementedError

    def _all_rows(self) -> list[Any]:
        raise NotImplementedError

    def _rows_of(self, learners: list[UUID]) -> list[Any]:
        raise NotImplementedError

    # ----- the master key -------------------------------------------------------------------

    def may_read_keys(self) -> bool:
        """Whether this login may read the key tables: on PostgreSQL an auditor or EQA login
        may not (`ledger grant`), and reads personal data as `[encrypted]`, never an error."""
        if self._may_read is None:
            self._may_read = self._may_read_rows()
        return self._may_read

    def _check_token(self) -> bytes | None:
        if not self.may_read_keys():
            return None
        token = self._token_row()
        return bytes(token) if token is not None else None

    def _opens_token(self, master: bytes, token: bytes) -> bool:
        try:
            return unseal(master, token, CHECK_CONTEXT) == CHECK_PLAINTEXT
        except OpenFailed:
            return False

    def why_locked(self) -> str:
        """Why personal data cannot be opened: no master key, or not this ledger's, or a
        login that may not read the learner keys."""
        if not self.may_read_keys():
            return "this login may not read the learner keys (an auditor or EQA login)"
        if self.source.load(create=False) is None:
            places = [MASTER_KEY_ENV, MASTER_KEY_FILE_ENV]
            if self.source.default_file is not None:
                places.append(str(self.source.default_file))
            return f"no master key is configured ({', '.join(places)})"
        return f"the master key from {self.source.describe()} is not this ledger's master key"

    def master_for_reading(self) -> bytes | None:
        """The master key if one is configured and it is this ledger's; else None."""
        if self._reading is None and not self.may_read_keys():
            self._reading = (None,)
        if self._reading is None:
            master = self.source.load(create=False)
            token = self._check_token() if master is not None else None
            if master is None or token is None or not self._opens_token(master, token):
                master = None
            self._reading = (master,)
        return self._reading[0]

    # ----- learner keys ---------------------------------------------------------------------

    def key_for_writing(self, learner: UUID) -> bytes:
        """A reader records nothing: keys are made and written by `keys.KeyStore`."""
        raise NotImplementedError(f"{type(self).__name__} reads keys; it writes none")

    def state(self, learner: UUID) -> str:
        """`none` (no key yet), `active` or `erased`."""
        row = self._row(learner)
        if row is None:
            return "none"
        return "erased" if row.erased else "active"

    def forget(self, learners: Any) -> None:
        """Drop these learners' cached keys, so a long bulk import keeps its memory flat."""
        for learner in learners:
            self._keys.pop(learner, None)

    def forget_all(self) -> None:
        """Forget every cached key and key row, as a newly started process would have none."""
        self._keys.clear()
        self._preloaded, self._reads = None, 0

    def hold_only(self, learners: Collection[UUID]) -> None:
        """Keep only these learners' keys, their rows read a chunk a query: a reader that
        goes through many learners a window at a time keeps its memory flat."""
        self._keys = {learner: key for learner, key in self._keys.items()
                      if learner in learners}
        if not self.may_read_keys():
            return
        wanted = sorted(learner for learner in learners if learner not in self._keys)
        self._preloaded = {}
        for start in range(0, len(wanted), ROWS_A_QUERY):
            self._preloaded.update((UUID(row.learner_id), row) for row in
                                   self._rows_of(wanted[start:start + ROWS_A_QUERY]))

    def key_for_reading(self, learner: UUID) -> bytes | str:
        """The learner's key, or the marker `[encrypted]` / `[erased]` to show instead."""
        if learner in self._keys:
            return self._keys[learner]
        row = self._preloaded_row(learner)
        found: bytes | str = ENCRYPTED
        if row is not None and row.erased:
            found = ERASED
        elif row is not None:
            master = self.master_for_reading()
            if master is not None:
                try:
                    found = unseal(master, bytes(row.wrapped_key), key_context(learner))
                except OpenFailed:
                    found = ENCRYPTED
        self._keys[learner] = found
        return found

    def _preloaded_row(self, learner: UUID) -> Any:
        """A key row: one query each for the first few learners read (`ledger audit` reads
        one), then one query for all of them (reports and replays read many)."""
        if self._preloaded is None:
            self._reads += 1
            if self._reads <= PRELOAD_AFTER or not self.may_read_keys():
                return self._row(learner)
            self._preloaded = {UUID(row.learner_id): row for row in self._all_rows()}
        row = self._preloaded.get(learner)
        return row if row is not None else self._row(learner)


class KeyReader(KeyReading):
    """The keys read through a DB-API connection (`storage.dbapi`), nothing ever written:
    what a read-only command uses, without SQLAlchemy."""

    def __init__(self, connection: Any, source: MasterKeySource) -> None:
        super().__init__(source)
        self.connection = connection

    def _may_read_rows(self) -> bool:
        if dbapi.is_sqlite(self.connection):
            return True
        found = dbapi.rows(self.connection, MAY_READ_SQL,
                           {"keys": KEYS_TABLE, "check": CHECK_TABLE})
        return bool(found[0][0])

    def _token_row(self) -> Any:
        found = dbapi.rows(self.connection, f"SELECT token FROM {CHECK_TABLE} WHERE id = 1")
        return found[0][0] if found else None

    def _row(self, learner: UUID) -> KeyRow | None:
        if not self.may_read_keys():
            return None
        found = dbapi.rows(
            self.connection,
            f"SELECT learner_id, wrapped_key, erased FROM {KEYS_TABLE} "
            f"WHERE learner_id = {dbapi.marker(self.connection)}", (str(learner),))
        return KeyRow(*found[0]) if found else None

    def _rows_of(self, learners: list[UUID]) -> list[KeyRow]:
        markers = ", ".join([dbapi.marker(self.connection)] * len(learners))
        return [KeyRow(*row) for row in dbapi.rows(
            self.connection, f"SELECT learner_id, wrapped_key, erased FROM {KEYS_TABLE} "
            f"WHERE learner_id IN ({markers})", [str(learner) for learner in learners])]

    def _all_rows(self) -> list[KeyRow]:
        return [KeyRow(*row) for row in dbapi.rows(
            self.connection, f"SELECT learner_id, wrapped_key, erased FROM {KEYS_TABLE}")]
