"""What counts as a ledger: refuse a missing file, an empty one, or a database without the
event tables before anything opens it (opening an SQLite path creates the file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aggregates.errors import NotALedger
from ledger.storage import dbapi
from ledger.storage.locations import EVENT_HASHES_TABLE, EVENTS_TABLE

LEDGER_TABLES = (EVENTS_TABLE, EVENT_HASHES_TABLE)
CREATE_HINT = "(`ledger init` creates one)"


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (its query string dropped), or None for another database."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def require_ledger(url: str) -> None:
    """Raise NotALedger unless the database at `url` already holds the ledger's event tables.

    Nothing is created: a missing SQLite file is refused before a connection would make it.
    """
    path = sqlite_path(url)
    if path is not None:
        _require_sqlite_file(path)
        missing = _missing_sqlite_tables(path)
    else:
        missing = _missing_tables(url)
    if missing:
        where = str(path) if path is not None else _describe(url)
        raise NotALedger(
            f"no ledger in {where}: its event tables ({', '.join(LEDGER_TABLES)}) do not exist "
            "(`ledger init` creates them)")


def _require_sqlite_file(path: Path) -> None:
    if not path.exists():
        raise NotALedger(f"no ledger at {path}: the file does not exist {CREATE_HINT}")
    if not path.is_file():
        raise NotALedger(f"{path} is not a file, so not a ledger")
    if path.stat().st_size == 0:
        raise NotALedger(f"{path} is an empty file (0 bytes), not a ledger")


def _missing_sqlite_tables(path: Path) -> list[str]:
    """The ledger tables the file lacks; an existing file is opened as it is, not created."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise NotALedger(f"cannot open {path}: {error}") from None
    try:
        names = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        raise NotALedger(f"{path} is not an SQLite database, so not a ledger") from None
    finally:
        connection.close()
    return [table for table in LEDGER_TABLES if table not in names]


def _missing_tables(url: str) -> list[str]:
    """The ledger tables a server database lacks on its search path (asked through the
    driver alone: a read-only command loads no SQLAlchemy)."""
    connection = dbapi.connect(url)
    try:
        return [table for table in LEDGER_TABLES
                if dbapi.rows(connection, "SELECT to_regclass(%s)", (table,))[0][0] is None]
    finally:
        connection.close()


def _describe(url: str) -> str:
    from sqlalchemy import create_engine  # only to name a database that is not a ledger
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        return engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
