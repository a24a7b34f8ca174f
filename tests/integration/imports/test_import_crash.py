"""Killing an import part-way and running it again gives the same ledger as one clean run.

The importer is a real `ledger import` process on the real database, killed with SIGKILL at a
set point rather than after a set time: inside the transaction of its sixth batch, once the
batch's rows are written and just before they are committed. Five batches are in, the sixth
is rolled back by the database, whatever the speed of the host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


KILLED_BATCH = 6
# `ledger import` with a kill switch: SIGKILL inside batch KILLED_BATCH's transaction,
# after its rows are written and before the commit (write_stored calls `committing` there)
KILLING_IMPORTER = f"""
import os, signal, sys
from ledger.imports import writing
original = writing.BatchWriter.write_stored
batches = 0
def write_stored(self, plan, committing=None):
    global batches
    batches += 1
    if batches < {KILLED_BATCH}:
        return original(self, plan, committing)
    def kill():
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, plan, kill)
writing.BatchWriter.write_stored = write_stored
from cli.main import main
sys.argv[0] = "ledger"
main()
"""


def start_import(url: str, path: Path, killed: bool = False) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    program = ["-c", KILLING_IMPORTER] if killed else ["-m", "cli"]
    return subprocess.Popen(
        [sys.executable, *program, "--db", url, "--actor", "importer", "import", str(path),
         "--batch-size", "10", "--workers", "1"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def events_of_first_batches(path: Path, folder: Path, batches: int) -> int:
    """The events a clean import of the file's first batches of 10 rows stores."""
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    rows = [line for line in lines[1:] if line.strip()]
    folder.mkdir()
    prefix = folder / path.name
    prefix.write_text(lines[0] + "".join(rows[:batches * 10]), encoding="utf-8")
    url = f"sqlite:///{folder / 'prefix.db'}"
    app = LedgerApp(url)
    import_csv(app, prefix, ImportOptions(actor="importer", batch_size=10))
    app.close()
    return count_events(url)


def test_an_import_killed_part_way_then_run_again_equals_one_clean_run(db_url, tmp_path):
    mis, lrs = tmp_path / "centre.csv", tmp_path / "centre-lrs.csv"
    write_demo_files(mis, lrs, 150, seed=11)
    LedgerApp(db_url).close()
    process = start_import(db_url, mis, killed=True)
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err.decode()
    partial = count_events(db_url)
    assert partial == events_of_first_batches(mis, tmp_path / "prefix", KILLED_BATCH - 1)

    rerun = start_import(db_url, mis)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert "events written:" in out.decode()

    clean = LedgerApp(f"sqlite:///{tmp_path / 'clean.db'}")
    import_csv(clean, mis, ImportOptions(actor="importer"))
    resumed = LedgerApp(db_url)
    assert count_events(db_url) > partial
    assert partial < count_events(f"sqlite:///{tmp_path / 'clean.db'}")
    assert ledger_facts(resumed) == ledger_facts(clean)
    assert len(ledger_facts(clean)) == 150
