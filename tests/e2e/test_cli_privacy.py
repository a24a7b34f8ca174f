"""The privacy commands as a user runs them: keygen, erase, retention, grant, audit --redact."""

import base64
import json
import stat

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.privacy.crypto import encode_key, new_key

LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Siân",
           "--family-name", "O'Brien", "--dob", "2004-05-06", "--gender", "2",
           "--postcode", "sw1a 1aa", "--email", "sian@example.org", "--uln", "1000000043"]
ENROL = ["enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
         "--title", "Diploma", "--start", "2023-09-01", "--planned-end", "2024-07-31"]
WITHDRAW = ["withdraw", "L1", "E1", "--left", "2023-10-02", "--reason", "requested"]


def audit(ledger, *options):
    return json.loads(ledger("audit", "L1", "--format", "json", *options).stdout)["events"]


def test_keygen_prints_a_base64_key_of_32_bytes():
    result = CliRunner().invoke(cli, ["keygen"])
    assert result.exit_code == 0
    assert len(base64.b64decode(result.stdout.strip())) == 32


def test_keygen_writes_an_owner_only_key_file_and_never_overwrites_it(tmp_path):
    path = tmp_path / "master.key"
    result = CliRunner().invoke(cli, ["keygen", "--file", str(path)])
    assert result.stdout == f"Master key written to {path}; set LEDGER_MASTER_KEY_FILE={path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = CliRunner().invoke(cli, ["keygen", "--file", str(path)])
    assert (again.exit_code, again.stderr) == (
        1, f"Error: {path} exists; a key file is never overwritten\n"
    )


def test_keygen_into_a_missing_folder_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "missing" / "master.key"
    result = CliRunner().invoke(cli, ["keygen", "--file", str(path)])
    assert (result.exit_code, result.stderr) == (
        1, f"Error: cannot write the key file {path}: No such file or directory\n"
    )
    assert not (tmp_path / "missing").exists()


def test_erase_destroys_the_key_and_the_audit_keeps_the_history(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    result = ledger("erase", "L1", "--reason", "learner request")
    assert result.stdout == "Erased learner L1 at C1: key destroyed (event 5)\n"
    events = audit(ledger)
    assert [e["event"] for e in events] == ["Recorded", "Enrolled", "Erased"]
    assert set(events[0]["changes"]["details"].values()) == {"[erased]"}
    assert events[1]["changes"]["programme_start"] == "2023-09-01"
    assert events[2]["changes"] == {"reason": "learner request"}
    again = ledger("erase", "L1", "--reason", "again")
    assert (again.exit_code, again.stderr) == (
        1, f"Error: learner L1 was already erased on {events[2]['occurred_on']}\n"
    )
    late = ledger(*WITHDRAW)
    assert late.exit_code == 1
    assert late.stderr.endswith("was erased on " f"{events[2]['occurred_on']}: nothing more "
                                "can be recorded\n")


def test_audit_redact_masks_birth_date_postcode_and_email_but_keeps_name_and_uln(ledger):
    ledger(*LEARNER)
    details = audit(ledger, "--redact")[0]["changes"]
    assert details["details"] == {
        "title": None, "given_name": "Siân", "family_name": "O'Brien",
        "date_of_birth": "[redacted]", "gender": 2, "postcode": "[redacted]",
        "email": "[redacted]",
    }
    assert details["uln"] == "1000000043"
    table = ledger("audit", "L1", "--redact").stdout
    assert "[redacted]" in table and "2004-05-06" not in table


def test_without_the_master_key_the_audit_shows_encrypted_and_recording_is_refused(
    ledger, monkeypatch
):
    ledger(*LEARNER)
    monkeypatch.delenv("LEDGER_MASTER_KEY")
    shown = ledger("audit", "L1")
    assert "        given name: [encrypted]" in shown.stdout.splitlines()
    assert shown.stderr.startswith("Note: personal data reads [encrypted]: no master key is "
                                   "configured (LEDGER_MASTER_KEY, LEDGER_MASTER_KEY_FILE")
    result = ledger(*ENROL)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: learner L1's personal data cannot be decrypted: no master key is configured"
    )


def test_with_another_ledgers_master_key_the_audit_says_the_key_is_wrong(ledger, monkeypatch):
    ledger(*LEARNER)
    assert ledger("audit", "L1").stderr == ""
    monkeypatch.setenv("LEDGER_MASTER_KEY", encode_key(new_key()))
    shown = ledger("audit", "L1")
    assert shown.exit_code == 0 and "[encrypted]" in shown.stdout
    assert "is not this ledger's master key" in shown.stderr


def test_retention_lists_learners_past_their_period_and_erases_after_confirmation(
    ledger, db_url
):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger(*WITHDRAW)
    assert json.loads(ledger("retention", "--on", "2026-10-02", "--format", "json").stdout) == {
        "on": "2026-10-02", "rows": []
    }
    due = json.loads(ledger("retention", "--on", "2026-10-03", "--format", "json").stdout)
    assert due["rows"] == [{"learner": "L1", "centre": "C1", "ended_on": "2023-10-02",
                            "basis": "E1 withdrawn", "keep_until": "2026-10-02"}]
    refused = CliRunner().invoke(cli, ["--db", db_url, "retention", "--on", "2026-10-03",
                                       "--erase", "--format", "csv"], input="n\n")
    assert refused.exit_code == 1 and refused.stderr.endswith("Error: aborted\n")
    assert audit(ledger)[-1]["event"] == "Withdrawn"
    done = CliRunner().invoke(cli, ["--db", db_url, "--actor", "dpo", "retention",
                                    "--on", "2026-10-03", "--erase", "--format", "csv"],
                              input="y\n")
    assert done.stdout == ("learner,centre,ended_on,basis,keep_until\n"
                           "L1,C1,2023-10-02,E1 withdrawn,2026-10-02\nErased 1 learner\n")
    assert audit(ledger)[-1]["changes"] == {"reason": "retention period ended 2026-10-02"}
    assert ledger("retention", "--on", "2026-10-03", "--format", "csv").stdout == (
        "learner,centre,ended_on,basis,keep_until\n"
    )


def test_grant_needs_postgresql_for_an_sqlite_ledger(ledger, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL roles are tested in tests/integration/privacy/test_roles.py")
    result = ledger("grant", "--role", "eqa", "reviewer")
    assert (result.exit_code, result.stderr) == (
        1, "Error: roles need PostgreSQL; an SQLite ledger is protected by its file "
           "permissions\n"
    )


def test_a_fresh_sqlite_ledger_without_a_master_key_creates_its_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv("LEDGER_MASTER_KEY")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, LEARNER).exit_code == 0
    key_file = tmp_path / "ledger.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    events = json.loads(runner.invoke(cli, ["audit", "L1", "--format", "json"]).stdout)
    assert events["events"][0]["changes"]["details"]["given_name"] == "Siân"
    key_file.rename(tmp_path / "elsewhere.key")
    result = runner.invoke(cli, ["learner", "add", "L2", *LEARNER[3:]])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no master key to protect personal data")
