"""The layout holds: one room per concern under ledger/, each documented, imports one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "ledger"
# the application, its read-only reader (the same layer: it opens the rooms, as the
# application does, without SQLAlchemy) and the demo
TOP_LEVEL_MODULES = {"__init__.py", "app.py", "reader.py", "demo.py"}
# what each room may import of ours besides itself (projections and aggregates always)
ROOM_MAY_IMPORT = {
    "storage": set(),
    "rules": set(),
    "bulk": {"storage"},
}
# the rooms that serve people, as the CLI does: they may open the application itself
FRONT_ROOMS = {"web"}


def imported_modules(path: Path, at_run_time: bool = False) -> set[str]:
    """Every module the file imports, at any depth (function-level imports count too);
    with `at_run_time`, not those under `if TYPE_CHECKING:` (annotations only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if at_run_time:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def test_no_module_lives_in_ledger_outside_a_room_but_the_app_its_reader_and_the_demo() -> None:
    loose = {path.name for path in LEDGER.glob("*.py")} - TOP_LEVEL_MODULES
    assert not loose, f"modules outside a room: {sorted(loose)}"


@pytest.mark.parametrize("room", sorted(path.parent.name for path in LEDGER.glob("*/__init__.py")))
def test_each_room_says_what_it_owns_in_its_init(room: str) -> None:
    docstring = ast.get_docstring(ast.parse((LEDGER / room / "__init__.py").read_text()))
    assert docstring and len(docstring) > 40, f"ledger/{room}/__init__.py has no docstring"


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("aggregates", ("ledger", "projections", "cli")),
    ("projections", ("ledger", "cli")),
    ("ledger", ("cli",)),
])
def test_lower_layers_never_import_higher_ones(folder: str, forbidden: tuple[str, ...]) -> None:
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(ROOT / folder) for name in imported_modules(path)
        if name.split(".")[0] in forbidden
    ]
    assert not offending, offending


@pytest.mark.parametrize("room", sorted(ROOM_MAY_IMPORT))
def test_the_foundation_rooms_import_only_what_they_may(room: str) -> None:
    allowed = ROOM_MAY_IMPORT[room] | {room}
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(LEDGER / room) for name in imported_modules(path)
        if name.startswith("ledger.") and name.split(".")[1] not in allowed
    ]
    assert not offending, offending


def test_rooms_use_the_application_only_for_annotations() -> None:
    """The arrow points from the application down to the rooms: a room takes the LedgerApp
    it is given, and names it only for its annotations (the web serves people, as the CLI
    does, and may open the application)."""
    offending = [
        f"{path.relative_to(ROOT)} imports {name}"
        for room in sorted(path.parent.name for path in LEDGER.glob("*/__init__.py"))
        if room not in FRONT_ROOMS
        for path in python_files(LEDGER / room) for name in imported_modules(path, True)
        if name == "ledger.app"
    ]
    assert not offending, offending
