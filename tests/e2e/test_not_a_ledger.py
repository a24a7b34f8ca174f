"""Read commands refuse what is not a ledger and create nothing; recording commands create one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from cli.main import cli
from ledger.app import LedgerApp
from tests.integration.integrity import tampering as t

READ_COMMANDS = [
    ["verify"],
    ["digest"],
    ["audit", "L1"],
    ["report", "late-registrations"],
    ["report", "maladministration"],
    ["report", "audit", "--centre", "C1"],
    ["replay"],
    ["rebuild"],
    ["retention"],
    ["export", "--centre", "C1", "out.jsonl"],
    ["checkpoint", "--signing-key", "no-key.pem"],
    ["erase", "L1", "--reason", "request"],
]
LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Ann",
           "--family-name", "Lee", "--dob", "2000-01-01", "--gender", "2"]


def run(db_url: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db_url, "--actor", "tester", *args])


def files_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_mistyped_sqlite_path_says_so_and_creates_nothing(
        command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "ledgr.db"
    result = run(f"sqlite:///{missing}", *command)
    assert result.exit_code == 1
    assert result.output == (f"Error: no ledger at {missing}: the file does not exist "
                             "(`ledger init` creates one)\n")
    assert files_in(tmp_path) == set()


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_zero_byte_file_is_refused(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "ledger.db"
    empty.touch()
    result = run(f"sqlite:///{empty}", *command)
    assert result.exit_code == 1
    assert result.output == f"Error: {empty} is an empty file (0 bytes), not a ledger\n"
    assert files_in(tmp_path) == {"ledger.db"}
    assert empty.stat().st_size == 0


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    other = tmp_path / "notes.db"
    other.write_text("a shopping list, not a database\n" * 100)
    result = run(f"sqlite:///{other}", "verify")
    assert result.exit_code == 1
    assert result.output == f"Error: {other} is not an SQLite database, so not a ledger\n"


def test_verify_on_a_ledger_whose_event_tables_were_dropped_is_refused(make_app, db_url):
    app = make_app()
    t.record_small_ledger(app)
    with app.engine.begin() as connection:
        connection.execute(text("DROP TABLE ledger_event_hashes"))
        connection.execute(text("DROP TABLE ledger_events"))
    result = run(db_url, "verify")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no ledger in ")
    assert result.output.endswith(
        ": its event tables (ledger_events, ledger_event_hashes) do not exist "
        "(`ledger init` creates them)\n")
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert not engine.dialect.has_table(connection, "ledger_events")
    engine.dispose()


def test_a_read_command_on_an_empty_postgres_schema_creates_no_tables(db_url):
    result = run(db_url, "report", "late-registrations")
    assert result.exit_code == 1
    assert "do not exist" in result.output or "does not exist" in result.output
    if db_url.startswith("postgresql"):
        engine = create_engine(db_url)
        with engine.connect() as connection:
            assert not engine.dialect.has_table(connection, "ledger_events")
        engine.dispose()


def test_verify_on_an_empty_ledger_fails_unless_allowed(db_url):
    assert run(db_url, "init").exit_code == 0
    refused = run(db_url, "verify")
    assert refused.exit_code == 1
    assert refused.output == ("Error: the ledger holds no events: nothing to verify "
                              "(give --allow-empty to accept an empty ledger)\n")
    allowed = run(db_url, "verify", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.startswith("Verified 0 events.\n")


def test_init_and_a_recording_command_still_create_a_new_ledger(tmp_path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    assert run(f"sqlite:///{first}", "init").exit_code == 0
    assert first.stat().st_size > 0
    result = run(f"sqlite:///{second}", *LEARNER)
    assert result.exit_code == 0, result.output
    assert run(f"sqlite:///{second}", "verify").output.startswith("Verified 3 events.")


def test_a_recording_command_that_fails_on_a_new_file_leaves_no_file_behind(tmp_path):
    new = tmp_path / "new.db"
    bad_date = [*LEARNER[:-4], "--dob", "not a date", "--gender", "2"]
    result = run(f"sqlite:///{new}", *bad_date)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert files_in(tmp_path) == set()
    unknown = run(f"sqlite:///{new}", "enrol", "L9", "E1", "--awarding-body", "IMI",
                  "--qualification", "603/1234/5", "--title", "Diploma", "--start",
                  "2026-09-01", "--planned-end", "2027-07-31")
    assert unknown.exit_code == 1
    assert files_in(tmp_path) == set()


def test_a_failing_command_on_an_existing_ledger_keeps_it(tmp_path):
    path = tmp_path / "ledger.db"
    LedgerApp(f"sqlite:///{path}").close()
    result = run(f"sqlite:///{path}", "enrol", "L9", "E1", "--awarding-body", "IMI",
                 "--qualification", "603/1234/5", "--title", "Diploma", "--start",
                 "2026-09-01", "--planned-end", "2027-07-31")
    assert result.exit_code == 1
    assert path.exists()
