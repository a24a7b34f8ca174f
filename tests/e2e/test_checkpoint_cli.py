"""`ledger keygen --signing`, `ledger checkpoint [--countersign]` and `ledger verify` against
the checkpoint log, as a centre and an EQA run them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli.main import cli
from ledger.integrity.checkpoints import read_log
from tests.e2e.test_cli_import import HEADER, ROWS
from tests.integration.integrity import tampering as t


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for who in ("centre", "eqa"):
        path = tmp_path / f"{who}.pem"
        result = CliRunner().invoke(cli, ["keygen", "--signing", "--file", str(path)])
        assert result.exit_code == 0, result.output
        made[who] = path
    return made


@pytest.fixture
def ledger(make_app):
    app = make_app()
    t.record_small_ledger(app)
    return app


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "centre.checkpoints"


def run(db_url: str, log: Path, *args: str, **env: str):
    return CliRunner(env=env).invoke(
        cli, ["--db", db_url, "--actor", "tester", *args, "--checkpoint-log", str(log)])


def test_keygen_signing_writes_an_owner_only_key_and_its_public_key(keys):
    centre = keys["centre"]
    assert stat.S_IMODE(centre.stat().st_mode) == 0o600
    assert centre.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert Path(f"{centre}.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = CliRunner().invoke(cli, ["keygen", "--signing", "--file", str(centre)])
    assert (again.exit_code, again.output) == (
        1, f"Error: {centre} exists; a key file is never overwritten\n")


def test_checkpoint_then_verify_names_the_checkpoints_that_hold(ledger, db_url, log, keys):
    signed = run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"]))
    assert signed.exit_code == 0, signed.output
    assert signed.output.startswith(f"Checkpoint appended to {log}: position 10, 10 events, ")
    result = run(db_url, log, "verify")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].startswith(
        f"Checkpoints: 1 holds in {log}; the latest at position 10, 10 events, recorded ")


def test_checkpoint_without_a_signing_key_is_a_user_error(ledger, db_url, log):
    result = run(db_url, log, "checkpoint")
    assert (result.exit_code, result.output) == (1, (
        "Error: no signing key: give --signing-key FILE or set LEDGER_SIGNING_KEY "
        "(`ledger keygen --signing` makes one)\n"))
    assert not log.exists()


def test_a_postgres_ledger_needs_a_configured_log(ledger, db_url, keys):
    if not db_url.startswith("postgresql"):
        pytest.skip("an SQLite ledger's log defaults to a file beside it")
    result = CliRunner().invoke(cli, ["--db", db_url, "checkpoint", "--signing-key",
                                      str(keys["centre"])])
    assert (result.exit_code, result.output) == (1, (
        "Error: a PostgreSQL ledger has no default checkpoint log: give --checkpoint-log "
        "FILE or set LEDGER_CHECKPOINT_LOG\n"))


def test_an_sqlite_ledger_keeps_its_log_beside_it(tmp_path, keys):
    db = tmp_path / "centre.db"
    url = f"sqlite:///{db}"
    runner = CliRunner()
    add = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Ann", "--family-name",
           "Lee", "--dob", "2000-01-01", "--gender", "2"]
    assert runner.invoke(cli, ["--db", url, *add]).exit_code == 0
    signed = runner.invoke(cli, ["--db", url, "checkpoint", "--signing-key", str(keys["centre"])])
    assert signed.exit_code == 0, signed.output
    assert len(read_log(tmp_path / "centre.db.checkpoints")) == 1


def test_verify_fails_on_a_deleted_tail_naming_the_checkpoint(ledger, db_url, log, keys):
    assert run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"])).exit_code == 0
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.truncate_both_after(ledger, connection, 6)
    result = run(db_url, log, "verify")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: checkpoint 1 (line 1 of {log}: position 10, ")
    assert result.output.endswith(
        "no longer holds: the ledger ends at position 6 (6 events), before the checkpoint's "
        "position: events were removed from the end\n")


def test_verify_fails_on_dropped_tables_naming_the_checkpoint(ledger, db_url, log, keys):
    assert run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"])).exit_code == 0
    with ledger.engine.begin() as connection:
        connection.execute(text("DROP TABLE ledger_event_hashes"))
        connection.execute(text("DROP TABLE ledger_events"))
    result = run(db_url, log, "verify")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: checkpoint 1 of {log} (position 10, 10 events, ")
    assert "no longer holds: no ledger in " in result.output


def test_verify_fails_on_an_emptied_and_reinitialised_ledger(ledger, db_url, log, keys):
    assert run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"])).exit_code == 0
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.truncate_both_after(ledger, connection, 0)
    result = run(db_url, log, "verify", "--allow-empty")
    assert result.exit_code == 1
    assert "the ledger ends at position 0 (0 events)" in result.output


def test_an_eqa_countersigns_keeps_a_copy_and_verify_checks_it(ledger, db_url, log, keys,
                                                               tmp_path):
    assert run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"])).exit_code == 0
    kept = tmp_path / "eqa-copy.checkpoints"
    result = run(db_url, log, "checkpoint", "--countersign", str(keys["eqa"]), "--keep",
                 str(kept))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Countersigned the checkpoint at position 10, 10 events")
    assert [type(e).__name__ for _, e in read_log(kept)] == ["Checkpoint", "Countersignature"]
    witness = str(keys["eqa"]) + ".pub"
    checked = run(db_url, log, "verify", "--witness-key", witness,
                  "--trusted-key", str(keys["centre"]) + ".pub")
    assert checked.exit_code == 0, checked.output
    assert "Countersignatures: 1 holds (key " in checked.output
    # the centre rewrites history and its own log; the EQA's copy still catches it
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.edit_state_byte(ledger, connection, 4)
        t.rechain(ledger, connection)
    log.unlink()
    own = run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"]))
    assert own.exit_code == 0, own.output
    caught = run(db_url, kept, "verify", "--witness-key", witness)
    assert caught.exit_code == 1
    assert "the history up to position 10 differs from the signed one" in caught.output


def test_verify_with_a_witness_key_fails_when_nothing_is_countersigned(ledger, db_url, log,
                                                                       keys):
    assert run(db_url, log, "checkpoint", "--signing-key", str(keys["centre"])).exit_code == 0
    result = run(db_url, log, "verify", "--witness-key", str(keys["eqa"]) + ".pub")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no checkpoint in {log} is countersigned by key ")


def test_an_import_appends_a_checkpoint_when_a_key_is_configured(db_url, log, keys, tmp_path):
    csv = tmp_path / "learners.csv"
    csv.write_text(HEADER + ROWS, encoding="utf-8")
    runner = CliRunner(env={"LEDGER_SIGNING_KEY": str(keys["centre"]),
                            "LEDGER_CHECKPOINT_LOG": str(log)})
    result = runner.invoke(cli, ["--db", db_url, "import", str(csv)])
    assert result.exit_code == 0, result.output
    head = runner.invoke(cli, ["--db", db_url, "digest"]).output.strip()
    assert [str(entry.digest) for _, entry in read_log(log)] == [head]
    again = runner.invoke(cli, ["--db", db_url, "import", str(csv)])
    assert again.exit_code == 0, again.output
    assert len(read_log(log)) == 1  # nothing new was recorded: nothing new to sign
    assert run(db_url, log, "verify").exit_code == 0


def test_a_bundle_carries_a_signed_checkpoint_and_verify_checks_it(ledger, db_url, log, keys,
                                                                   tmp_path):
    out = tmp_path / "c1.jsonl"
    exported = run(db_url, log, "export", "--centre", "C1", "--signing-key",
                   str(keys["centre"]), str(out))
    assert exported.exit_code == 0, exported.output
    assert "Checkpoint: position 10, 10 events" in exported.output
    public = str(keys["centre"]) + ".pub"
    result = CliRunner().invoke(cli, ["verify", "--bundle", str(out), "--trusted-key", public])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith(
        "the signature holds; the bundle's chain reaches its hash.")
    wrong = CliRunner().invoke(cli, ["verify", "--bundle", str(out), "--trusted-key",
                                     str(keys["eqa"]) + ".pub"])
    assert wrong.exit_code == 1
    assert "not by the centre's key given" in wrong.output
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    header["checkpoint"]["position"] = 9
    lines[0] = json.dumps(header, ensure_ascii=False, separators=(",", ":"))
    out.write_text("\n".join(lines) + "\n")
    forged = CliRunner().invoke(cli, ["verify", "--bundle", str(out)])
    assert (forged.exit_code, forged.output) == (1, (
        "Error: line 1: the bundle's checkpoint signature does not hold: it was edited\n"))


def test_a_log_named_on_the_command_line_must_exist(ledger, db_url, log):
    result = run(db_url, log, "verify")
    assert (result.exit_code, result.output) == (1, f"Error: no checkpoint log at {log}\n")
    from_env = CliRunner(env={"LEDGER_CHECKPOINT_LOG": str(log)}).invoke(
        cli, ["--db", db_url, "verify"])
    assert from_env.exit_code == 0, from_env.output  # configured, none written yet
    assert "Checkpoints" not in from_env.output


def test_an_eqa_refuses_to_countersign_a_log_not_signed_by_the_centres_key(ledger, db_url,
                                                                          log, keys):
    assert run(db_url, log, "checkpoint", "--signing-key", str(keys["eqa"])).exit_code == 0
    result = run(db_url, log, "checkpoint", "--countersign", str(keys["eqa"]),
                 "--trusted-key", str(keys["centre"]) + ".pub")
    assert result.exit_code == 1
    assert result.output.startswith("Error: checkpoint 1 (line 1 of ")
    assert "not the centre's key" in result.output
    assert len(read_log(log)) == 1  # nothing countersigned
