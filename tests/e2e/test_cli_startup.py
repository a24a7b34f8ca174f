"""Start-up: `ledger` loads a command's module only when it runs (bench/startup.py times it)."""

import importlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import COMMANDS, cli

HEAVY = ("sqlalchemy", "eventsourcing_sqlalchemy", "eventsourcing", "rich", "ledger.app")
# what only the application's recorder needs: a command that reads never loads it
RECORDER = ("eventsourcing_sqlalchemy", "sqlalchemy_utils", "sqlalchemy.orm",
            "ledger.integrity.chained_recorder")


def modules_loaded_by(code: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\n"
                             "print('\\n'.join(sys.modules))"],
                            capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def run_ledger(*argv: str) -> tuple[str, set[str]]:
    """What `ledger ARGV` prints, run in a new process, and the modules it loaded (run: a
    module deferred by `ledger.storage.lazy_imports` and never read is not counted)."""
    code = ("import sys\nfrom cli.main import cli\n"
            f"sys.argv = ['ledger', *{list(argv)!r}]\n"
            "try:\n    cli(prog_name='ledger')\nexcept SystemExit:\n    pass\n"
            "print('MODULES', *(name for name, module in sys.modules.items()\n"
            "                   if type(module).__name__ != '_LazyModule'), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    modules = result.stderr.split("MODULES", 1)[1].split()
    return result.stdout, set(modules)


@pytest.fixture
def small_ledger(tmp_path: Path) -> str:
    """A ledger with one learner and a retraction, made through the CLI, its write-ahead
    log copied into the file."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for argv in (["learner", "add", "L1", "--centre", "12345", "--given-name", "Siân",
                  "--family-name", "Quill", "--dob", "2004-05-06", "--gender", "2"],
                 ["enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification",
                  "603/1234/5", "--title", "Diploma", "--start", "2026-09-01",
                  "--planned-end", "2027-07-31"],
                 ["retract", "4", "--reason", "keyed twice"]):
        result = CliRunner().invoke(cli, ["--db", url, "--actor", "t", *argv])
        assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "ledger.db") as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return url


def test_an_audit_never_loads_the_recorder_or_the_orm(small_ledger: str) -> None:
    out, loaded = run_ledger("--db", small_ledger, "audit", "L1")
    assert "Audit of L1 at centre 12345: 3 events" in out and "retracted by 5" in out
    assert "family name: Quill" in out  # personal data opened with the master key
    assert not loaded & set(RECORDER), loaded & set(RECORDER)


def test_an_audit_reads_through_the_driver_without_sqlalchemy(small_ledger: str) -> None:
    out, loaded = run_ledger("--db", small_ledger, "audit", "L1", "--format", "json")
    assert '"family_name": "Quill"' in out  # the keys read and opened without SQLAlchemy
    assert not {module for module in loaded if module.split(".")[0] == "sqlalchemy"}


def test_an_audit_loads_no_sqlalchemy_on_either_database(ledger, db_url: str) -> None:
    result = ledger("learner", "add", "L1", "--centre", "12345", "--given-name", "Siân",
                    "--family-name", "Quill", "--dob", "2004-05-06", "--gender", "2")
    assert result.exit_code == 0, result.output
    out, loaded = run_ledger("--db", db_url, "audit", "L1", "--format", "json")
    assert '"family_name": "Quill"' in out
    assert not {module for module in loaded if module.split(".")[0] == "sqlalchemy"}


def test_a_driver_error_while_auditing_is_one_database_error_line(small_ledger: str) -> None:
    path = small_ledger.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:  # a key table gone: the reader cannot read it
        connection.execute("DROP TABLE ledger_learner_keys")
    result = CliRunner().invoke(cli, ["--db", small_ledger, "audit", "L1"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: database: no such table: ledger_learner_keys")


def test_an_audit_writes_nothing_to_the_ledger(small_ledger: str) -> None:
    path = Path(small_ledger.removeprefix("sqlite:///"))
    before = path.read_bytes()
    out, _ = run_ledger("--db", small_ledger, "audit", "L1", "--format", "json")
    assert '"event": "Retracted"' in out
    wal = path.with_name(path.name + "-wal")
    assert path.read_bytes() == before
    assert not wal.exists() or wal.stat().st_size == 0


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


def test_version_is_the_installed_packages_and_loads_no_package_metadata():
    from importlib.metadata import version

    out, loaded = run_ledger("--version")
    assert out == f"ledger, version {version('compliance-ledger')}\n"
    assert "importlib.metadata" not in loaded


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


def test_a_recording_command_loads_neither_the_rule_sets_nor_all_of_sqlalchemy_utils(
    small_ledger: str,
) -> None:
    out, loaded = run_ledger("--db", small_ledger, "amend", "L1", "--set", "email=a@b.org",
                             "--reason", "typo")
    assert out.startswith("Recorded 1 event for L1: ")
    assert "eventsourcing_sqlalchemy.models" in loaded
    skipped = {"holidays", "ledger.rules.rulesets", "sqlalchemy_utils.functions",
               "sqlalchemy.dialects.oracle"}
    assert not loaded & skipped, loaded & skipped


def test_an_audit_of_a_ledger_chained_before_stamps_shows_no_login(small_ledger: str) -> None:
    path = small_ledger.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:  # the chain table as it was before stamps
        for column in ("recorded_by", "recorded_at_us"):
            connection.execute(f"ALTER TABLE ledger_event_hashes DROP COLUMN {column}")
    out, _ = run_ledger("--db", small_ledger, "audit", "L1")
    assert "Audit of L1 at centre 12345: 3 events" in out
    assert "recorded by t\n" in out and "login" not in out
    with sqlite3.connect(path) as connection:  # reading changed nothing
        columns = {row[1] for row in connection.execute("PRAGMA table_info(ledger_event_hashes)")}
    assert not columns & {"recorded_by", "recorded_at_us"}


def test_a_recording_command_runs_no_other_databases_dialect_nor_the_checkpoint_signing(
    small_ledger: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEDGER_SIGNING_KEY", raising=False)  # no checkpoint is due, or made
    out, loaded = run_ledger("--db", small_ledger, "amend", "L1", "--set", "email=a@b.org",
                             "--reason", "typo")
    assert out.startswith("Recorded 1 event for L1: ")
    unused = {"sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.mssql",
              "importlib.metadata", "ledger.integrity.verify", "ledger.integrity.signing",
              "multiprocessing", "cryptography.hazmat.primitives.asymmetric.ed25519"}
    assert not loaded & unused, loaded & unused


def test_help_and_version_load_neither_the_domain_values_nor_the_output_helpers():
    for argument in ("--help", "--version"):
        out, loaded = run_ledger(argument)
        assert out.startswith(("Usage: ledger", "ledger, version")), argument
        unused = {"aggregates.values", "aggregates.reference", "tomllib", "cli.output",
                  "orjson"}
        assert not loaded & unused, (argument, loaded & unused)


def test_an_actor_refused_at_start_is_still_one_error_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--db", f"sqlite:///{tmp_path / 'l.db'}", "--actor",
         "a\x1b[31mb" + "x" * 500, "audit", "L1"], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: ledger: Invalid value for --actor: ")
    assert "\x1b" not in result.stderr and len(result.stderr.splitlines()) == 1
