"""A plain DB-API connection to a ledger's database (sqlite3 or psycopg2), without SQLAlchemy.

For commands that only read and must start fast (the reports' light path): SQLAlchemy and the
recorder's libraries are not imported. The URL is the one `--db` or LEDGER_DB gives, in the
forms `ledger.storage.persistence.database_url` accepts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aggregates.errors import ConfigurationError

SQLITE_BUSY_MS = 60_000  # as the application waits for another writer's transaction


DEFAULT_URL = "sqlite:///ledger.db"  # `persistence.DEFAULT_DB_URL` (a test checks)


def plain_url(given: str | None = None) -> str:
    """The ledger's URL from `given`, LEDGER_DB or the default file, normalised as
    `persistence.database_url` does (which also checks the folder: `connect` will)."""
    url = (given or os.environ.get("LEDGER_DB") or DEFAULT_URL).strip()
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    if "://" not in url:
        url = f"sqlite:///{Path(url)}"
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (its query string dropped), or None for another database."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def connect(url: str) -> Any:
    """A DB-API connection to the database at `url` (an existing SQLite file, or PostgreSQL
    through psycopg2 in UTF-8); nothing is created. Raises ConfigurationError for another URL
    or a missing SQLite file."""
    path = sqlite_file(url)
    if path is not None:
        if not path.is_file():
            raise ConfigurationError(f"no SQLite file at {str(path)!r}")
        import sqlite3

        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        return connection
    if url.startswith("postgresql+psycopg2://"):
        import psycopg2

        connection = psycopg2.connect(**postgres_arguments(url))
        connection.set_client_encoding("UTF8")
        return connection
    raise ConfigurationError(f"database URL {url!r} is neither sqlite:///FILE nor "
                             "postgresql+psycopg2://...")


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
