"""Start-up: `ledger` loads a command's module only when it runs (bench/startup.py times it)."""

import importlib
import subprocess
import sys

import click
from click.testing import CliRunner

from cli.main import COMMANDS, cli

HEAVY = ("sqlalchemy", "eventsourcing_sqlalchemy", "eventsourcing", "rich", "ledger.app")


def modules_loaded_by(code: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\n"
                             "print('\\n'.join(sys.modules))"],
                            capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_the_cli_loads_no_database_library():
    loaded = modules_loaded_by("import cli.main")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_help_and_version_load_no_command_module():
    for argument in ("--help", "--version"):
        loaded = modules_loaded_by(
            "import sys\nfrom cli.main import cli\nsys.argv = ['ledger', '"
            + argument + "']\ntry:\n    cli(prog_name='ledger')\nexcept SystemExit:\n    pass")
        commands = {module for module, _, _ in COMMANDS.values()}
        assert not loaded & (commands | set(HEAVY)), argument


def test_the_help_listed_for_each_command_is_its_own_first_line():
    for name, (module, attribute, listed) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        assert command.get_short_help_str(limit=500) == listed, name


def test_every_command_module_command_is_in_the_registry():
    registered = {(module, attribute) for module, attribute, _ in COMMANDS.values()}
    for module in {module for module, _, _ in COMMANDS.values()}:
        loaded = importlib.import_module(module)
        for attribute, value in vars(loaded).items():
            if isinstance(value, click.Command) and not attribute.startswith("_") and (
                    getattr(value.callback, "__module__", "") == module):
                in_group = any(value in getattr(parent, "commands", {}).values()
                               for parent in vars(loaded).values()
                               if isinstance(parent, click.Group) and parent is not value)
                assert in_group or (module, attribute) in registered, (module, attribute)


def test_ledger_help_lists_every_command():
    output = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        assert f"  {name} " in output, name
