"""Modules that SQLAlchemy and its helpers import but a ledger command does not use, loaded
only if something reads them.

A recording command opens the application, which imports SQLAlchemy, its ORM and the
recorder's library. Of what they import at once, some is never used by a ledger:
- SQLAlchemy-Utils' `UUIDType` (the recorder's library's aggregate-id column) runs `from
  sqlalchemy.dialects import mssql, postgresql`, to name their UUID types when a table is
  made on those databases, and each package imports every driver module it has (asyncpg,
  pg8000, psycopg, psycopg2, pyodbc, ...): about a tenth of a recording command's CPU on
  SQLite (bench/startup.py);
- SQLAlchemy's `util.compat` imports `importlib.metadata` (with `zipfile`, `email`, `csv`...)
  to look up plugins by entry point, which it does only for a dialect it does not know.

`defer(name)` puts such a module in `sys.modules` as the standard library's lazy module
(`importlib.util.LazyLoader`): its name is bound at once, and it runs the first time one of
its attributes is read, so nothing changes for code that uses it (a PostgreSQL engine reads
`postgresql.psycopg2`, and so loads the package whole; the UUID type reads `postgresql.UUID`
only on PostgreSQL). A module already imported is left as it is; the database's own dialect
is never deferred. Call them in the main thread before the importing modules load (a lazy
module is not meant to be loaded by two threads at once). `tests/unit/test_lazy_imports.py`
checks that a recording command runs without loading them, and that they still work when
used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

UNUSED_DIALECTS = {  # the URL's dialect: the dialect packages nothing reads on it
    "sqlite": ("sqlalchemy.dialects.mssql", "sqlalchemy.dialects.postgresql"),
    "postgresql": ("sqlalchemy.dialects.mssql",),
}
UNUSED_BY_COMMANDS = ("importlib.metadata",)


def defer_unused_dialects(url: str) -> list[str]:
    """Defer the dialect packages a ledger at `url` does not use; the names deferred now."""
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    return [name for name in UNUSED_DIALECTS.get(dialect, ()) if defer(name)]


def defer_unused_by_commands() -> list[str]:
    """Defer what the libraries import that no `ledger` command reads (before SQLAlchemy
    loads: its `util.compat` names `importlib.metadata`); the names deferred now."""
    return [name for name in UNUSED_BY_COMMANDS if defer(name)]


def defer(name: str) -> bool:
    """Put a lazy module for `name` in sys.modules, and on its parent package as an import
    does; False if it is imported already or cannot be found (a real import then loads or
    reports it, as before). The parent package is imported, not deferred."""
    if name in sys.modules:
        return False
    parent_name, _, child = name.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return False
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    if parent is not None:
        setattr(parent, child, module)
    return True
