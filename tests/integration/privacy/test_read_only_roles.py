"""Read-only users: auditor and EQA logins, and a read-only SQLite file, run every reading
command through the CLI, write nothing, and the EQA never sees personal data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from cli.main import cli
from ledger.app import LedgerApp
from ledger.privacy.roles import grant
from ledger.reporting.reports import TRACKING_TABLE
from tests.conftest import TEST_SCHEMA, fresh_postgres_url
from tests.integration.integrity import tampering as t

AUDITOR, EQA = f"{TEST_SCHEMA}_auditor_user", f"{TEST_SCHEMA}_eqa_user"
PERSONAL = ("Quillfeather", "Siân", "Si\\u00e2n", "2004-05-06", "SW1A", "sian.q",
            "1000000043")
READING = {
    "audit": ["audit", "L1", "--format", "json"],
    "replay": ["replay", "--format", "json"],
    "late-registrations": ["report", "late-registrations", "--format", "json"],
    "maladministration": ["report", "maladministration", "--format", "json"],
    "report-audit": ["report", "audit", "--centre", "C1", "--format", "json"],
}


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def record(app: LedgerApp) -> None:
    """A late registration and personal data, then reports caught up, then one more event
    (so the reports are behind for whoever reads next)."""
    app.add_learner(t.CTX, "C1", "L1", given_name="Siân", family_name="Quillfeather",
                    date_of_birth="2004-05-06", gender="2", postcode="SW1A 1AA",
                    email="sian.q@example.org", uln="1000000043")
    app.enrol(t.CTX, "L1", "E1", awarding_body="IMI", qualification="603/1234/5",
              title="Diploma", start="2025-09-01", planned_end="2026-07-01")
    assert run(app.url, "report", "late-registrations")[0] == 0  # the tables caught up
    app.register(t.CTX, "L1", "E1", submitted="2026-01-20")


@pytest.fixture
def postgres_ledger():
    app = LedgerApp(fresh_postgres_url())
    record(app)
    grant(app.engine, "auditor", AUDITOR)
    grant(app.engine, "eqa", EQA)
    yield app
    app.close()
    app.engine.dispose()


def login_url(app: LedgerApp, name: str) -> str:
    return app.url.replace("://postgres@", f"://{name}@")


def tracking_position(app: LedgerApp) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT max(notification_id) FROM {TRACKING_TABLE}"))
                   .scalar() or 0)


@pytest.mark.postgres
@pytest.mark.parametrize("login", [AUDITOR, EQA], ids=["auditor", "eqa"])
def test_read_only_logins_run_every_reading_command_and_write_nothing(postgres_ledger, login):
    url = login_url(postgres_ledger, login)
    behind = tracking_position(postgres_ledger)
    for name, args in READING.items():
        code, out, err = run(url, *args)
        assert code == 0, (name, err)
        json.loads(out)
    assert tracking_position(postgres_ledger) == behind  # the reports were not written
    late = json.loads(run(url, *READING["late-registrations"])[1])
    owners = json.loads(run(postgres_ledger.url, *READING["late-registrations"])[1])
    assert late["rows"] == owners["rows"] and late["rows"][0]["status"] == "late"
    assert tracking_position(postgres_ledger) > behind  # the owner's run caught them up
    code, out, _ = run(url, "verify")
    assert code == 0 and "Verified 5 events." in out


@pytest.mark.postgres
@pytest.mark.parametrize("login", [AUDITOR, EQA], ids=["auditor", "eqa"])
def test_read_only_logins_export_a_bundle_that_verifies(postgres_ledger, login, tmp_path):
    bundle = tmp_path / "c1.bundle"
    code, _, err = run(login_url(postgres_ledger, login), "export", "--centre", "C1", str(bundle))
    assert code == 0, err
    code, out, _ = run(postgres_ledger.url, "verify", "--bundle", str(bundle))
    assert code == 0 and "3 events" in out.replace("3 event(s)", "3 events")


@pytest.mark.postgres
def test_the_eqa_never_sees_personal_data(postgres_ledger):
    url = login_url(postgres_ledger, EQA)
    for name, args in READING.items():
        out = run(url, *args)[1]
        for value in PERSONAL:
            assert value not in out, (name, value)
    audit = json.loads(run(url, *READING["audit"])[1])
    assert audit["events"][0]["changes"]["details"]["family_name"] == "[encrypted]"
    err = run(url, *READING["audit"])[2]
    assert "this login may not read the learner keys" in err


@pytest.mark.postgres
def test_the_eqa_still_cannot_read_the_keys_or_write(postgres_ledger):
    engine = create_engine(login_url(postgres_ledger, EQA))
    try:
        for statement in ("SELECT * FROM ledger_learner_keys", "SELECT * FROM "
                          "ledger_master_key_check", "INSERT INTO ledger_reports_tracking "
                          "VALUES ('x', 1)", "DELETE FROM ledger_report_timelines"):
            with engine.connect() as connection, pytest.raises(Exception, match="permission"):
                connection.execute(text(statement))
    finally:
        engine.dispose()


POWERFUL = {
    "superuser": "SUPERUSER",
    "createrole": "CREATEROLE",
    "bypassrls": "BYPASSRLS",
    "replication": "REPLICATION",
    "member-of-a-superuser": "IN ROLE postgres",
}


@pytest.mark.postgres
@pytest.mark.parametrize("attributes", POWERFUL.values(), ids=POWERFUL.keys())
def test_grant_refuses_a_login_a_ledger_role_would_not_restrain(postgres_ledger, attributes):
    name = f"{TEST_SCHEMA}_powerful"
    with postgres_ledger.engine.begin() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {name}"))
        connection.execute(text(f"CREATE ROLE {name} LOGIN {attributes}"))
    try:
        code, out, err = run(postgres_ledger.url, "grant", "--role", "eqa", name)
        assert code == 1 and out == ""
        assert err.startswith(f"Error: {name}") and "would not restrain" in err
        with postgres_ledger.engine.connect() as connection:
            granted = connection.execute(text(
                "SELECT count(*) FROM pg_auth_members WHERE member = to_regrole(:name) "
                "AND roleid = to_regrole('ledger_eqa')"), {"name": name}).scalar()
        assert granted == 0
    finally:
        with postgres_ledger.engine.begin() as connection:
            connection.execute(text(f"DROP ROLE IF EXISTS {name}"))


@pytest.mark.postgres
def test_grant_refuses_the_superuser_and_the_ledgers_owner(postgres_ledger):
    code, _, err = run(postgres_ledger.url, "grant", "--role", "eqa", "postgres")
    assert code == 1
    assert "a superuser" in err and "the ledger tables' owner" in err


def test_a_read_only_sqlite_file_gives_reports_and_is_not_written(tmp_path: Path):
    path = tmp_path / "ledger.db"
    app = LedgerApp(f"sqlite:///{path}")
    record(app)
    app.close()
    app.engine.dispose()
    with sqlite3.connect(path) as connection:  # the write-ahead log into the file, emptied
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path.chmod(0o444)
    before = path.read_bytes()
    url = f"sqlite:///{path}"
    for name, args in READING.items():
        code, out, err = run(url, *args)
        assert code == 0, (name, err)
        json.loads(out)
    late = json.loads(run(url, *READING["late-registrations"])[1])
    assert [row["status"] for row in late["rows"]] == ["late"]
    assert run(url, "verify")[0] == 0
    assert path.read_bytes() == before
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    path.chmod(0o600)


@pytest.mark.postgres
def test_a_read_only_login_on_a_ledger_its_owner_has_not_upgraded_is_told_who_must(
    postgres_ledger
):
    with postgres_ledger.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER ledger_event_hashes_server_chain ON ledger_events"))
    code, out, err = run(login_url(postgres_ledger, AUDITOR), "verify")
    assert (code, out) == (1, "")
    assert err == ("Error: this ledger needs the server-side chain, which only its owner can "
                   "install: run `ledger init` once as the ledger's owner\n")
    assert run(postgres_ledger.url, "init")[0] == 0
    assert run(login_url(postgres_ledger, AUDITOR), "verify")[0] == 0
