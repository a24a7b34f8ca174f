"""Signed checkpoints against insiders: each attack that the chain alone lets through is caught
by a checkpoint kept outside the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.integrity.checkpoints import (
    CheckpointBroken,
    append_entries,
    check_log,
    countersign,
    read_log,
    sign_checkpoint,
)
from ledger.integrity.ledger_id import METADATA_TABLE, ledger_id
from ledger.integrity.signing import new_signing_key, public_text
from ledger.integrity.verify import verify_ledger
from tests.integration.integrity import tampering as t

CENTRE_KEY = new_signing_key()
EQA_KEY = new_signing_key()


@pytest.fixture
def ledger(make_app):
    app = make_app()
    t.record_small_ledger(app)
    return app


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "ledger.checkpoints"


def checkpointed(app, log: Path):
    checkpoint = sign_checkpoint(app, CENTRE_KEY)
    append_entries(log, [checkpoint])
    return checkpoint


def test_a_checkpoint_signs_the_head_and_the_ledger_id_and_holds(ledger, log):
    checkpoint = checkpointed(ledger, log)
    assert (checkpoint.position, checkpoint.events) == (10, 10)
    assert checkpoint.ledger_id == ledger_id(ledger.engine) == ledger.ledger_id
    assert checkpoint.signed
    checked = check_log(ledger, log, [public_text(CENTRE_KEY.public_key())])
    assert (checked.checkpoints, checked.latest) == (1, checkpoint)


def test_each_ledger_gets_its_own_random_id_kept_across_openings(make_app, tmp_path):
    from ledger.app import LedgerApp

    first = make_app()
    again = make_app()
    other = LedgerApp(f"sqlite:///{tmp_path / 'other.db'}")
    assert first.ledger_id == again.ledger_id != other.ledger_id
    other.close()


def test_the_ledger_id_table_is_append_only(ledger):
    with pytest.raises(Exception, match="append-only"), ledger.engine.begin() as connection:
        connection.execute(text(f"UPDATE {METADATA_TABLE} SET value = 'x'"))


def test_a_deleted_tail_verifies_on_the_chain_but_breaks_the_checkpoint(ledger, log):
    checkpointed(ledger, log)
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.truncate_both_after(ledger, connection, 7)
    assert verify_ledger(ledger).ok  # the attack the chain alone lets through
    with pytest.raises(CheckpointBroken, match=(
            r"checkpoint 1 \(line 1 of .*: position 10, recorded .*\) no longer holds: the "
            r"ledger ends at position 7 \(7 events\), before the checkpoint's position: events "
            "were removed from the end")):
        check_log(ledger, log)


def test_a_rewritten_chain_breaks_the_checkpoint(ledger, log):
    checkpointed(ledger, log)
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.edit_state_byte(ledger, connection, 4)
        t.rechain(ledger, connection)
    assert verify_ledger(ledger).ok
    with pytest.raises(CheckpointBroken, match=(
            r"checkpoint 1 .* no longer holds: the history up to position 10 differs from the "
            "signed one")):
        check_log(ledger, log)


def test_the_first_checkpoint_that_no_longer_holds_is_named(ledger, log):
    checkpointed(ledger, log)
    ledger.enrol(t.CTX, "L2", "E2", awarding_body="CG", qualification="600/1234/5",
                 title="Plumbing", start="2025-09-01", planned_end="2026-07-01")
    checkpointed(ledger, log)
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.truncate_both_after(ledger, connection, 10)
    with pytest.raises(CheckpointBroken, match=r"^checkpoint 2 \(line 2 .*position 11"):
        check_log(ledger, log)


def test_a_replaced_database_is_another_ledger(make_app, log, db_url, tmp_path):
    original = make_app()
    t.record_small_ledger(original)
    checkpointed(original, log)
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        original.close()
        original.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        from tests.conftest import fresh_postgres_url
        fresh_postgres_url()
    replacement = make_app()
    t.record_small_ledger(replacement)
    with pytest.raises(CheckpointBroken, match=(
            f"it is of ledger {original.ledger_id}, this is ledger {replacement.ledger_id}: "
            "the database was replaced")):
        check_log(replacement, log)


def test_an_edited_checkpoint_line_fails_its_signature(ledger, log):
    checkpoint = checkpointed(ledger, log)
    forged = replace(checkpoint, position=7)
    log.write_text(json.dumps(forged.as_line()) + "\n")
    with pytest.raises(CheckpointBroken, match="its signature does not hold: the log was edited"):
        check_log(ledger, log)


def test_a_checkpoint_signed_by_another_key_is_refused(ledger, log):
    checkpointed(ledger, log)
    append_entries(log, [sign_checkpoint(ledger, new_signing_key())])
    with pytest.raises(CheckpointBroken, match=r"^checkpoint 2 .*not the centre's key"):
        check_log(ledger, log)


def test_an_eqa_countersignature_holds_and_is_required_when_asked(ledger, log):
    checkpoint = checkpointed(ledger, log)
    eqa = public_text(EQA_KEY.public_key())
    with pytest.raises(CheckpointBroken, match=r"no checkpoint in .* is countersigned by key"):
        check_log(ledger, log, witnesses=[eqa])
    append_entries(log, [countersign(checkpoint, EQA_KEY)])
    checked = check_log(ledger, log, witnesses=[eqa])
    assert checked.countersignatures == 1


def test_an_edited_countersignature_is_refused(ledger, log):
    checkpoint = checkpointed(ledger, log)
    signature = countersign(checkpoint, EQA_KEY)
    append_entries(log, [replace(signature, recorded_at="2020-01-01T00:00:00Z")])
    with pytest.raises(CheckpointBroken, match=r"countersignature on line 2 .* does not hold"):
        check_log(ledger, log)


def test_automatic_checkpoints_every_n_events(make_app, db_url, tmp_path, monkeypatch):
    key = tmp_path / "centre.pem"
    from ledger.integrity.signing import write_signing_key
    write_signing_key(key, CENTRE_KEY)
    log = tmp_path / "auto.checkpoints"
    monkeypatch.setenv("LEDGER_SIGNING_KEY", str(key))
    monkeypatch.setenv("LEDGER_CHECKPOINT_LOG", str(log))
    monkeypatch.setenv("LEDGER_CHECKPOINT_EVERY", "4")
    app = make_app()
    t.record_small_ledger(app)  # 3 learners (3 events each), then an enrolment: 10 events
    positions = [entry.position for _, entry in read_log(log)]
    assert positions == [6, 10]  # saved 3 events at a time: 6 - 0 >= 4, then 10 - 6 >= 4
    assert check_log(app, log).checkpoints == 2


def test_an_automatic_checkpoint_that_cannot_be_written_says_the_events_were_recorded(
        make_app, tmp_path, monkeypatch):
    from ledger.integrity.checkpoints import CheckpointNotAppended
    from ledger.integrity.signing import write_signing_key
    key = tmp_path / "centre.pem"
    write_signing_key(key, CENTRE_KEY)
    monkeypatch.setenv("LEDGER_SIGNING_KEY", str(key))
    monkeypatch.setenv("LEDGER_CHECKPOINT_LOG", str(tmp_path / "no-such-folder" / "log"))
    monkeypatch.setenv("LEDGER_CHECKPOINT_EVERY", "1")
    app = make_app()
    with pytest.raises(CheckpointNotAppended, match=(
            r"^the events were recorded \(up to position 3\), but no checkpoint was appended: "
            "cannot append to the checkpoint log")):
        t.record_small_ledger(app)
    assert app.recorder.max_notification_id() == 3


def test_the_checkpoint_settings_name_the_signing_modules_key_variable() -> None:
    from ledger.integrity import checkpoints, signing

    assert checkpoints.SIGNING_KEY_ENV == signing.SIGNING_KEY_ENV
