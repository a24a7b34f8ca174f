"""Modules deferred at start-up still work when something reads them
(ledger/storage/lazy_imports.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> list[str]:
    """The lines a fresh interpreter prints running `code` (nothing of the tests loaded)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()


def test_the_recorder_library_loads_on_sqlite_without_running_the_server_dialects() -> None:
    printed = run_python("""
        import sys
        from ledger.storage.lazy_imports import defer_unused_dialects
        print(defer_unused_dialects("sqlite:///ledger.db"))
        from ledger.storage.recorder_library import load_recorder_library
        load_recorder_library()
        from eventsourcing_sqlalchemy.models import StoredEventRecord
        print(sorted(name for name, module in sys.modules.items()
                     if name.startswith(("sqlalchemy.dialects.postgresql",
                                         "sqlalchemy.dialects.mssql"))
                     and type(module).__name__ != "_LazyModule"))
    """)
    assert printed == ["['sqlalchemy.dialects.mssql', 'sqlalchemy.dialects.postgresql']", "[]"]


def test_a_deferred_dialect_loads_whole_when_used() -> None:
    printed = run_python("""
        from ledger.storage.lazy_imports import defer_unused_dialects
        defer_unused_dialects("sqlite:///ledger.db")
        from ledger.storage.recorder_library import load_recorder_library
        load_recorder_library()
        from eventsourcing_sqlalchemy.models import StoredEventRecord
        from sqlalchemy import create_engine
        from sqlalchemy.dialects import postgresql
        engine = create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
        column = StoredEventRecord.originator_id.type
        print(engine.dialect.name, type(engine.dialect).__module__)
        print(type(column.load_dialect_impl(engine.dialect)).__name__,
              postgresql.UUID.__module__)
    """)
    assert printed == ["postgresql sqlalchemy.dialects.postgresql.psycopg2",
                       "PGUuid sqlalchemy.sql.sqltypes"]


def test_deferred_package_metadata_still_answers() -> None:
    printed = run_python("""
        import importlib, sys
        from ledger.storage.lazy_imports import defer_unused_by_commands
        print(defer_unused_by_commands(), defer_unused_by_commands())
        print(type(sys.modules["importlib.metadata"]).__name__)
        from importlib.metadata import version
        print(version("click") == importlib.metadata.version("click") != "",
              type(sys.modules["importlib.metadata"]).__name__)
    """)
    assert printed == ["['importlib.metadata'] []", "_LazyModule", "True module"]


def test_a_module_already_loaded_is_left_as_it_is() -> None:
    printed = run_python("""
        import sys
        import sqlalchemy.dialects.postgresql as loaded
        from ledger.storage.lazy_imports import defer, defer_unused_dialects
        print(defer_unused_dialects("sqlite:///ledger.db"), defer("no_such_module_here"),
              sys.modules["sqlalchemy.dialects.postgresql"] is loaded)
    """)
    assert printed == ["['sqlalchemy.dialects.mssql'] False True"]
