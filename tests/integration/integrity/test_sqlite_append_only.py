"""SQLite: no form of INSERT replaces a stored event or chain entry; odd stored types are named."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.app import LedgerApp
from ledger.integrity.verify import current_digest, verify_ledger
from tests.integration.integrity import tampering as t

EVENT = "SELECT originator_id, originator_version, topic, CAST('{}' AS BLOB) FROM ledger_events"
REPLACING = {
    "insert-or-replace-id": "INSERT OR REPLACE INTO ledger_events "
                            "SELECT id, originator_id, originator_version, topic, "
                            "CAST('{}' AS BLOB) FROM ledger_events WHERE id = 4",
    "replace-id": "REPLACE INTO ledger_events SELECT id, originator_id, originator_version, "
                  "topic, CAST('{}' AS BLOB) FROM ledger_events WHERE id = 4",
    "upsert": "INSERT INTO ledger_events SELECT id, originator_id, originator_version, topic, "
              "state FROM ledger_events WHERE id = 4 ON CONFLICT (id) DO UPDATE SET "
              "state = CAST('{}' AS BLOB)",
    "upsert-aggregate-version": "INSERT INTO ledger_events (originator_id, originator_version, "
                                f"topic, state) {EVENT} WHERE id = 4 ON CONFLICT "
                                "(originator_id, originator_version) DO UPDATE SET state = "
                                "CAST('{}' AS BLOB)",
    "replace-chain-entry": "INSERT OR REPLACE INTO ledger_event_hashes (position, seq, "
                           "content_hash, hash) VALUES (4, 4, 'a', 'b')",
    "upsert-chain-entry": "INSERT INTO ledger_event_hashes (position, seq, content_hash, hash) "
                          "VALUES (4, 4, 'a', 'b') ON CONFLICT (position) DO UPDATE SET "
                          "hash = 'b'",
}


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    app = LedgerApp(f"sqlite:///{path}")
    t.record_small_ledger(app)
    app.close()
    app.engine.dispose()
    return path


@pytest.mark.parametrize("statement", REPLACING.values(), ids=REPLACING.keys())
def test_an_insert_that_would_replace_a_stored_row_is_refused(ledger_file, statement):
    with sqlite3.connect(ledger_file) as connection, pytest.raises(
            sqlite3.IntegrityError, match="ledger events are append-only"):
        connection.execute(statement)
    app = LedgerApp(f"sqlite:///{ledger_file}")
    assert verify_ledger(app).ok and verify_ledger(app).events == 10
    app.close()


def test_a_replace_of_an_aggregate_version_under_a_new_id_is_named_by_verify(ledger_file):
    with sqlite3.connect(ledger_file) as connection:
        connection.execute("REPLACE INTO ledger_events (originator_id, originator_version, "
                           f"topic, state) {EVENT} WHERE id = 4")
    app = LedgerApp(f"sqlite:///{ledger_file}")
    result = verify_ledger(app)
    assert result.problem is not None
    assert (result.problem.position, result.problem.kind) == (4, "missing")
    app.close()


def test_a_state_stored_as_text_fails_verify_naming_its_position(ledger_file):
    with sqlite3.connect(ledger_file) as connection:
        connection.execute("DROP TRIGGER ledger_events_no_replace")
        connection.execute("INSERT OR REPLACE INTO ledger_events SELECT id, originator_id, "
                           "originator_version, topic, CAST(state AS TEXT) FROM ledger_events "
                           "WHERE id = 4")
    app = LedgerApp(f"sqlite:///{ledger_file}")
    for workers in (1, 2):
        result = verify_ledger(app, workers=workers, page=3)
        assert result.problem is not None
        assert (result.problem.position, result.problem.kind) == (4, "changed")
        assert "a state stored as str, not bytes" in result.problem.message
    app.close()
    cli = subprocess.run([sys.executable, "-m", "cli", "--db", f"sqlite:///{ledger_file}",
                          "verify"], capture_output=True, text=True)
    assert cli.returncode == 1
    assert cli.stderr.startswith("Error: tampered at position 4 (changed)"), cli.stderr
    assert "Traceback" not in cli.stderr


def test_a_version_stored_as_text_fails_verify_naming_its_position(ledger_file):
    with sqlite3.connect(ledger_file) as connection:
        connection.execute("DROP TRIGGER ledger_events_no_replace")
        connection.execute("INSERT OR REPLACE INTO ledger_events SELECT id, originator_id, "
                           "'v' || originator_version, topic, state "
                           "FROM ledger_events WHERE id = 6")
    app = LedgerApp(f"sqlite:///{ledger_file}")
    result = verify_ledger(app)
    assert result.problem is not None and result.problem.position == 6
    assert "a version stored as str" in result.problem.message
    app.close()


def test_a_new_ledger_file_is_readable_by_its_owner_only(tmp_path: Path):
    old = os.umask(0o022)
    try:
        app = LedgerApp(f"sqlite:///{tmp_path / 'new.db'}")
        t.record_small_ledger(app)
        assert current_digest(app)["events"] == 10
        app.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.db").stat().st_mode) == 0o600


def test_an_existing_ledger_file_keeps_its_mode(tmp_path: Path):
    path = tmp_path / "shared.db"
    path.touch()
    path.chmod(0o640)
    LedgerApp(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
