"""A ledger's database opened through its DB-API driver alone (sqlite3, psycopg2), without
SQLAlchemy: for read-only commands that must start fast (`ledger audit`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from aggregates.errors import ConfigurationError

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIX = "postgresql+psycopg2://"
SQLITE_BUSY_SECONDS = 60.0  # as the application waits for another writer (persistence.py)


def connect(url: str) -> Any:
    """A DB-API connection to the ledger at a normalised URL (`persistence.database_url`).

    SQLite: the file as it is (the caller checked it is a ledger: nothing is created), with
    the application's wait for another writer's lock. PostgreSQL: the URL handed to libpq as
    it is written (user, password, host, port, database and query options such as
    `options=-csearch_path=...`), a UTF-8 database required and UTF-8 on the connection, as
    the application has them (`persistence.configure_postgres`), in autocommit so a reader
    holds no transaction open.
    """
    if url.startswith(SQLITE_PREFIX):
        return _connect_sqlite(url)
    if url.startswith(POSTGRES_PREFIX):
        return _connect_postgres(url)
    raise ConfigurationError(f"database URL {url!r} is neither sqlite:///FILE nor "
                             "postgresql+psycopg2://...")


def _connect_sqlite(url: str) -> sqlite3.Connection:
    path = url.removeprefix(SQLITE_PREFIX).split("?", 1)[0]
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_SECONDS * 1000)}")
    return connection


def _connect_postgres(url: str) -> Any:
    import psycopg2

    connection = psycopg2.connect("postgresql://" + url.removeprefix(POSTGRES_PREFIX))
    connection.autocommit = True
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
