"""Where a ledger is: its database URL from --db or LEDGER_DB, normalised, and its event
tables' names (no database library is loaded here)."""

from __future__ import annotations

import os
from pathlib import Path

from aggregates.errors import ConfigurationError

DEFAULT_DB_URL = "sqlite:///ledger.db"
EVENTS_TABLE = "ledger_events"
EVENT_HASHES_TABLE = "ledger_event_hashes"
APPEND_ONLY_MESSAGE = "ledger events are append-only: UPDATE and DELETE are refused"


def database_url(given: str | None = None) -> str:
    """The SQLAlchemy URL from --db, LEDGER_DB or the SQLite default, normalised."""
    url = (given or os.environ.get("LEDGER_DB") or DEFAULT_DB_URL).strip()
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    if "://" not in url:
        url = f"sqlite:///{Path(url)}"
    if not url.startswith(("sqlite://", "postgresql+psycopg2://")):
        raise ConfigurationError(
            f"database URL {url!r} is neither sqlite:///FILE nor postgresql+psycopg2://..."
        )
    if url.startswith("sqlite:///") and ":memory:" not in url:
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise ConfigurationError(f"database folder {str(folder)!r} does not exist")
    return url
