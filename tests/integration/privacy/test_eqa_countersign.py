"""An EQA countersigns through their own read-only PostgreSQL login, as the witness model
expects: they verify the centre's ledger and log, countersign, and keep their own copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.app import LedgerApp
from ledger.integrity.checkpoints import Countersignature, read_log
from ledger.privacy.roles import grant
from tests.conftest import TEST_SCHEMA, fresh_postgres_url
from tests.integration.integrity import tampering as t

EQA = f"{TEST_SCHEMA}_eqa_user"


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.output


def keygen(path: Path) -> Path:
    assert run("unused", "keygen", "--signing", "--file", str(path))[0] == 0
    return path


@pytest.mark.postgres
def test_an_eqa_login_countersigns_a_checkpoint_and_its_copy_catches_a_later_rewrite(
        tmp_path: Path) -> None:
    centre_key, eqa_key = keygen(tmp_path / "centre.pem"), keygen(tmp_path / "eqa.pem")
    log, kept = tmp_path / "centre.checkpoints", tmp_path / "eqa-copy.checkpoints"
    app = LedgerApp(fresh_postgres_url())
    try:
        t.record_small_ledger(app)
        grant(app.engine, "eqa", EQA)
        code, output = run(app.url, "checkpoint", "--checkpoint-log", str(log),
                           "--signing-key", str(centre_key))
        assert code == 0, output
        eqa_url = app.url.replace("://postgres@", f"://{EQA}@")
        code, output = run(eqa_url, "checkpoint", "--checkpoint-log", str(log),
                           "--countersign", str(eqa_key), "--trusted-key",
                           f"{centre_key}.pub", "--keep", str(kept))
        assert code == 0, output
        assert isinstance(read_log(kept)[-1][1], Countersignature)
        code, output = run(eqa_url, "verify", "--checkpoint-log", str(kept), "--trusted-key",
                           f"{centre_key}.pub", "--witness-key", f"{eqa_key}.pub")
        assert code == 0, output
        assert "Countersignatures: 1 holds" in output
        with app.engine.begin() as connection:  # the owner removes the tail, chain and all
            t.drop_triggers(connection)
            t.truncate_both_after(app, connection, 7)
        LedgerApp(app.url).close()  # and puts the triggers back, as a careful insider would
        code, output = run(eqa_url, "verify", "--checkpoint-log", str(kept), "--trusted-key",
                           f"{centre_key}.pub", "--witness-key", f"{eqa_key}.pub")
        assert code == 1
        assert "the ledger ends at position 7" in output
    finally:
        app.close()
        app.engine.dispose()
