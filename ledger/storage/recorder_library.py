"""Loading the recorder's library (eventsourcing-sqlalchemy) without all of SQLAlchemy-Utils.

eventsourcing-sqlalchemy's table models use one thing of SQLAlchemy-Utils, its `UUIDType`
(`sqlalchemy_utils.types.uuid`). Importing that module first runs the package's `__init__`,
and `sqlalchemy_utils.types`'s, which import every type and function SQLAlchemy-Utils has
(the Oracle and SQL Server dialects, dateutil, passwords, phone numbers...): a tenth of a
recording command's start-up, for nothing it uses (bench/startup.py).

`load_recorder_library` imports the models with those two `__init__`s skipped: for the time
of that import, `sqlalchemy_utils` and `sqlalchemy_utils.types` are stand-in packages whose
path is the real ones', so only `types/uuid.py` (and the one module it imports) run. The
stand-ins are removed as soon as the models are loaded, so a later `import sqlalchemy_utils`
runs the real package, which finds the same `uuid` module already loaded: one `UUIDType`.
`tests/unit/test_recorder_library.py` checks both, against the installed SQLAlchemy-Utils.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

LIBRARY_MODELS = "eventsourcing_sqlalchemy.models"
SKIPPED_PACKAGES = ("sqlalchemy_utils", "sqlalchemy_utils.types")


def load_recorder_library() -> None:
    """Import eventsourcing-sqlalchemy's models (and SQLAlchemy-Utils' UUID type alone)."""
    if LIBRARY_MODELS in sys.modules or SKIPPED_PACKAGES[0] in sys.modules:
        importlib.import_module(LIBRARY_MODELS)  # loaded already, or nothing left to skip
        return
    stand_ins = _stand_ins()
    sys.modules.update(stand_ins)
    try:
        importlib.import_module(LIBRARY_MODELS)
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _stand_ins() -> dict[str, ModuleType]:
    """Empty packages named as SKIPPED_PACKAGES, whose submodules are the real ones."""
    stand_ins: dict[str, ModuleType] = {}
    for name in SKIPPED_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return {}  # not installed as a package: the import then loads what it finds
        module = ModuleType(name, "stand-in: the package's __init__ is not run")
        module.__path__ = list(spec.submodule_search_locations)
        module.__spec__ = spec
        stand_ins[name] = module
        sys.modules[name] = module  # so that the next name's spec is found within it
    for name in stand_ins:
        del sys.modules[name]
    return stand_ins
