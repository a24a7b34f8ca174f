"""Killing an import part-way and running it again gives the same ledger as one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from ledger.app import LedgerApp
from ledger.demo import write_demo_files
from ledger.imports import ImportOptions, import_csv
from tests.integration.imports.test_import import ledger_facts

ROOT = Path(__file__).resolve().parents[3]


def count_events(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()
    except Exception:  # the table may not exist yet while the importer starts
        return 0
    finally:
        engine.dispose()


def start_import(url: str, path: Path) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", url, "--actor", "importer", "import", str(path),
         "--batch-size", "10"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_an_import_killed_part_way_then_run_again_equals_one_clean_run(db_url, tmp_path):
    mis, lrs = tmp_path / "centre.csv", tmp_path / "centre-lrs.csv"
    write_demo_files(mis, lrs, 150, seed=11)
    LedgerApp(db_url).close()
    process = start_import(db_url, mis)
    deadline = time.monotonic() + 120
    while count_events(db_url) < 150 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the import finished before it was killed"
    partial = count_events(db_url)
    assert partial >= 150  # several batches of 10 rows are in, the rest is not

    rerun = start_import(db_url, mis)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert "events written:" in out.decode()

    clean = LedgerApp(f"sqlite:///{tmp_path / 'clean.db'}")
    import_csv(clean, mis, ImportOptions(actor="importer"))
    resumed = LedgerApp(db_url)
    assert count_events(db_url) > partial
    assert ledger_facts(resumed) == ledger_facts(clean)
    assert len(ledger_facts(clean)) == 150
