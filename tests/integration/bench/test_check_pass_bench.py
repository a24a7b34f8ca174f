"""The check bench plans a tiny export in one process: every event the import would store."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import check_pass
from ledger.app import LedgerApp
from ledger.imports.runner import ImportOptions, import_csv


def test_the_check_bench_plans_every_event_a_dry_run_import_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = check_pass.main(["--learners", "30", "--workdir", str(tmp_path)])
    app = LedgerApp(f"sqlite:///{tmp_path / 'dry.db'}")
    dry = import_csv(app, tmp_path / "check-export.csv",
                     ImportOptions(actor="test", dry_run=True, workers=1))
    new_learners = 30  # each with its reference index's two events
    assert result["events"] == dry.events + 2 * new_learners > result["rows"] >= new_learners
    assert result["check_cpu_seconds"] > 0 and result["csv_cpu_seconds"] > 0
    assert result["check_over_csv"] == result["check_cpu_seconds"] / result["csv_cpu_seconds"]
    assert "µs an event" in capsys.readouterr().out
