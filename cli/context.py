"""Shared CLI plumbing: settings on the click context, the application, and error mapping."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aggregates.errors import ConfigurationError, LedgerError

if TYPE_CHECKING:  # the application and the database libraries load when a command opens it
    from aggregates.learner import Context
    from ledger.app import LedgerApp
    from ledger.reader import LedgerReader

F = TypeVar("F", bound=Callable[..., Any])
DATABASE_ERRORS = (("eventsourcing.persistence", "PersistenceError"),
                   ("sqlalchemy.exc", "SQLAlchemyError"),
                   ("sqlite3", "Error"), ("psycopg2", "Error"))  # the drivers' own, read directly


@dataclass
class Settings:
    """What the group options set for every command."""

    db: str | None
    actor: str
    may_create: bool = False
    _app: LedgerApp | None = field(default=None, repr=False)
    _reader: LedgerReader | None = field(default=None, repr=False)
    _new_files: list[Path] = field(default_factory=list, repr=False)

    def app(self) -> LedgerApp:
        """The ledger application, opened on first use.

        Only commands that record (and `init`) set `may_create` and so may create a new
        ledger; any other refuses a database that is not one yet, creating nothing.
        """
        if self._app is None:
            from ledger.storage.lazy_imports import defer_unused_by_commands

            defer_unused_by_commands()  # before SQLAlchemy loads (bench/startup.py)
            from ledger.app import LedgerApp
            from ledger.storage.existence import require_ledger, sqlite_path

            url = self.url()
            if not self.may_create:
                require_ledger(url)
            path = sqlite_path(url)
            if path is not None:
                self._new_files = [file for file in _sqlite_files(path) if not file.exists()]
            self._app = LedgerApp(url)
        return self._app

    def reader(self) -> LedgerReader:
        """The ledger opened read-only for a learner's trail (`ledger audit`): an existing
        ledger only, nothing set up or written, and none of the recorder's libraries loaded
        (a command that reads one learner starts in a fraction of the application's time)."""
        if self._reader is None:
            from ledger.reader import LedgerReader
            from ledger.storage.existence import require_ledger

            url = self.url()
            require_ledger(url)
            self._reader = LedgerReader(url)
        return self._reader

    def url(self) -> str:
        """The database URL from --db or LEDGER_DB, refusing an in-memory database."""
        from ledger.storage.locations import database_url

        url = database_url(self.db)
        if url.rstrip("/") == "sqlite:" or ":memory:" in url:
            raise ConfigurationError(
                f"{url!r} is an in-memory database: everything recorded would be lost; "
                "give a file, e.g. sqlite:///ledger.db")
        return url

    def discard_new_ledger(self) -> None:
        """After a failed command: remove the SQLite files it created, if it recorded nothing,
        so no empty ledger is left behind (e.g. a mistyped --db with a bad command)."""
        if not self._new_files:
            return
        if self._app is not None:
            app, self._app = self._app, None
            from sqlalchemy.exc import SQLAlchemyError

            try:
                with app.engine.connect() as connection:
                    recorded = connection.exec_driver_sql(
                        "SELECT EXISTS (SELECT 1 FROM ledger_events)").scalar()
            except SQLAlchemyError:  # set-up failed before the table was made: nothing in it
                recorded = False
            app.close()
            app.engine.dispose()
            if recorded:
                return
        for file in self._new_files:
            file.unlink(missing_ok=True)
        self._new_files = []

    def context(self, note: str | None = None, source: str = "cli") -> Context:
        from aggregates.learner import Context

        return Context(actor=self.actor, source=source, note=note)


def _sqlite_files(path: Path) -> list[Path]:
    """The files an SQLite ledger may create: the database, its WAL and shared memory, its
    master-key file."""
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", ".key"))]


def default_actor() -> str:
    """LEDGER_ACTOR, else the operating-system user."""
    try:
        return os.environ.get("LEDGER_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def settings() -> Settings:
    """The settings of the running command."""
    return click.get_current_context().find_object(Settings)  # type: ignore[no-any-return]


def user_errors(function: F) -> F:
    """Turn domain and database errors into `Error: ...` on stderr with exit code 1."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except LedgerError as error:
            raise click.ClickException(str(error)) from error
        except Exception as error:
            if not is_database_error(error):
                raise
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise click.ClickException(f"database: {message}") from error

    return wrapper  # type: ignore[return-value]


def is_database_error(error: Exception) -> bool:
    """A PersistenceError, SQLAlchemyError or a driver's error (checked without importing
    their libraries: an error of a library not yet loaded cannot have been raised)."""
    for module, name in DATABASE_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, getattr(loaded, name)):
            return True
    return False
