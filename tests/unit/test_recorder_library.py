"""The recorder's library loads with SQLAlchemy-Utils' UUID type alone, and the real package
still loads whole afterwards (ledger/storage/recorder_library.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    """What a fresh interpreter prints running `code` (nothing of the tests loaded)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_library_models_load_without_running_sqlalchemy_utils_init() -> None:
    printed = run_python("""
        import sys
        from ledger.storage.recorder_library import load_recorder_library
        load_recorder_library()
        from eventsourcing_sqlalchemy.models import StoredEventRecord
        from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
        print(sorted(name for name in sys.modules if name.startswith("sqlalchemy_utils")))
        print(type(StoredEventRecord.originator_id.type).__module__)
    """)
    assert printed.splitlines() == [
        "['sqlalchemy_utils.types.scalar_coercible', 'sqlalchemy_utils.types.uuid']",
        "sqlalchemy_utils.types.uuid",
    ]


def test_sqlalchemy_utils_imported_afterwards_is_the_whole_package_with_the_same_type() -> None:
    printed = run_python("""
        from ledger.storage.recorder_library import load_recorder_library
        load_recorder_library()
        import sqlalchemy_utils
        from eventsourcing_sqlalchemy import models
        whole = callable(sqlalchemy_utils.database_exists)
        print(sqlalchemy_utils.UUIDType is models.UUIDType, whole)
    """)
    assert printed == "True True"


def test_loaded_after_the_package_it_changes_nothing() -> None:
    printed = run_python("""
        import sqlalchemy_utils
        from ledger.storage.recorder_library import load_recorder_library
        load_recorder_library()
        from eventsourcing_sqlalchemy import models
        print(sqlalchemy_utils.UUIDType is models.UUIDType)
    """)
    assert printed == "True"
