"""Shared CLI plumbing: settings on the click context, the application, and error mapping."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aggregates.errors import ConfigurationError, LedgerError

if TYPE_CHECKING:  # the application and the database libraries load when a command opens it
    from aggregates.learner import Context
    from ledger.app import LedgerApp

F = TypeVar("F", bound=Callable[..., Any])
DATABASE_ERRORS = (("eventsourcing.persistence", "PersistenceError"),
                   ("sqlalchemy.exc", "SQLAlchemyError"))


@dataclass
class Settings:
    """What the group options set for every command."""

    db: str | None
    actor: str
    _app: LedgerApp | None = field(default=None, repr=False)

    def app(self) -> LedgerApp:
        """The ledger application, opened on first use."""
        if self._app is None:
            from ledger.app import LedgerApp
            from ledger.storage.persistence import database_url

            url = database_url(self.db)
            if url.rstrip("/") == "sqlite:" or ":memory:" in url:
                raise ConfigurationError(
                    f"{url!r} is an in-memory database: everything recorded would be lost; "
                    "give a file, e.g. sqlite:///ledger.db")
            self._app = LedgerApp(url)
        return self._app

    def context(self, note: str | None = None, source: str = "cli") -> Context:
        from aggregates.learner import Context

        return Context(actor=self.actor, source=source, note=note)


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
    """A PersistenceError or SQLAlchemyError (checked without importing their libraries: an
    error of a library not yet loaded cannot have been raised)."""
    for module, name in DATABASE_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, getattr(loaded, name)):
            return True
    return False
