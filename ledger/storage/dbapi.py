"""A ledger's database opened through its DB-API driver alone (sqlite3, psycopg2), without
SQLAlchemy: for read-only commands that must start fast (`ledger audit`, the reports' light
path). The URL is the one `--db` or LEDGER_DB gives, in the forms
`ledger.storage.persistence.database_url` accepts.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aggregates.errors import ConfigurationError

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIX = "postgresql+psycopg2://"
SQLITE_BUSY_SECONDS = 60.0  # as the application waits for another writer (persistence.py)
DEFAULT_URL = "sqlite:///ledger.db"  # `persistence.DEFAULT_DB_URL` (a test checks)


def plain_url(given: str | None = None) -> str:
    """The ledger's URL from `given`, LEDGER_DB or the default file, normalised as
    `persistence.database_url` does (which also checks the folder: `connect` will)."""
    url = (given or os.environ.get("LEDGER_DB") or DEFAULT_URL).strip()
    if url.startswith(("postgres://", "postgresql://")):
        url = POSTGRES_PREFIX + url.split("://", 1)[1]
    if "://" not in url:
        url = f"{SQLITE_PREFIX}{Path(url)}"
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (its query string dropped), or None for another database."""
    if not url.startswith(SQLITE_PREFIX) or ":memory:" in url:
        return None
    return Path(url.removeprefix(SQLITE_PREFIX).split("?", 1)[0])


def connect(url: str, autocommit: bool = True) -> Any:
    """A DB-API connection to the ledger at a normalised URL (`persistence.database_url`).

    SQLite: the file as it is (an existing file: nothing is created), with the application's
    wait for another writer's lock; statements run outside a transaction until the caller
    says BEGIN. PostgreSQL: psycopg2 with the URL's user, password, host, port, database
    and query options (such as `options=-csearch_path=...`), a UTF-8 database required and
    UTF-8 on the connection, as the application has them (`persistence.configure_postgres`);
    in autocommit, so a reader holds no transaction open, unless `autocommit` is False (a
    caller that sets its own transaction, such as a report's snapshot).
    """
    path = sqlite_file(url)
    if path is not None:
        if not path.is_file():
            raise ConfigurationError(f"no SQLite file at {str(path)!r}")
        return _connect_sqlite(path)
    if url.startswith(POSTGRES_PREFIX):
        return _connect_postgres(url, autocommit)
    raise ConfigurationError(f"database URL {url!r} is neither sqlite:///FILE nor "
                             "postgresql+psycopg2://...")


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None,
                                 check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_SECONDS * 1000)}")
    return connection


def _connect_postgres(url: str, autocommit: bool) -> Any:
    import psycopg2

    connection = psycopg2.connect(**postgres_arguments(url))
    connection.autocommit = autocommit
    encoding = connection.get_parameter_status("server_encoding")
    if encoding != "UTF8":
        database = connection.info.dbname
        connection.close()
        raise ConfigurationError(
            f"the PostgreSQL database {database!r} uses the {encoding} encoding; "
            "the ledger needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)"
        )
    connection.set_client_encoding("UTF8")
    return connection


def postgres_arguments(url: str) -> dict[str, Any]:
    """psycopg2's keyword arguments for a `postgresql+psycopg2://` URL (its query string's
    parameters, such as `options`, passed on as they are)."""
    parts = urlsplit(url)
    arguments: dict[str, Any] = {key: value for key, value in parse_qsl(parts.query)}
    if parts.hostname:
        arguments["host"] = unquote(parts.hostname)
    if parts.port:
        arguments["port"] = parts.port
    if parts.username:
        arguments["user"] = unquote(parts.username)
    if parts.password:
        arguments["password"] = unquote(parts.password)
    database = parts.path.lstrip("/")
    if database:
        arguments["dbname"] = unquote(database)
    return arguments


def is_sqlite(connection: Any) -> bool:
    """Whether the connection is sqlite3's (else psycopg2's)."""
    return isinstance(connection, sqlite3.Connection)


def marker(connection: Any) -> str:
    """The driver's parameter marker: `?` (sqlite3) or `%s` (psycopg2)."""
    return "?" if is_sqlite(connection) else "%s"


def rows(connection: Any, sql: str,
         parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of SQL written in the driver's own dialect and parameter markers."""
    cursor = connection.cursor()
    try:
        if parameters is not None:
            cursor.execute(sql, parameters)
        else:  # no markers: psycopg2 would read any % as one
            cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def column_names(connection: Any, table: str) -> set[str]:
    """The names of a table's columns."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT * FROM {table} LIMIT 0")
        return {description[0] for description in cursor.description}
    finally:
        cursor.close()
