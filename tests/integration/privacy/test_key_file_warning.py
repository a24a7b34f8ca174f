"""A key file that others may read is used, with a warning on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Ann", "--family-name",
           "Lee", "--dob", "2000-01-01", "--gender", "2"]


def run(path: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", f"sqlite:///{path}", *args])


@pytest.fixture
def key_file_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LEDGER_MASTER_KEY", raising=False)
    path = tmp_path / "ledger.db"
    assert run(path, *LEARNER).exit_code == 0
    return path


def test_a_new_key_file_is_owner_only_and_reads_without_a_warning(key_file_ledger):
    key = key_file_ledger.with_name("ledger.db.key")
    assert key.stat().st_mode & 0o777 == 0o600
    result = run(key_file_ledger, "audit", "L1", "--format", "json")
    assert result.exit_code == 0 and "Warning" not in result.stderr
    assert '"given_name": "Ann"' in result.stdout


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602])
def test_a_key_file_others_may_read_or_write_gets_a_warning(key_file_ledger, mode):
    key = key_file_ledger.with_name("ledger.db.key")
    key.chmod(mode)
    result = run(key_file_ledger, "audit", "L1", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == (f"Warning: the key file {key} can be read or written by others "
                             f"than its owner (mode {mode:o}): chmod 600 {key}\n")
    assert '"given_name": "Ann"' in result.stdout
