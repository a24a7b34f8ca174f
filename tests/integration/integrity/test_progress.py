"""Verify and export report their progress by position, with one worker or several."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.demo import write_demo_files
from ledger.imports import ImportOptions, import_csv
from ledger.integrity.bundle import export_bundle
from ledger.integrity.verify import verify_ledger


class Recorded:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.updates: list[tuple[str, int, int]] = []

    def start(self, phase: str, total: int) -> None:
        self.phases.append((phase, total))

    def update(self, completed: int, rows: int) -> None:
        self.updates.append((self.phases[-1][0], completed, rows))


@pytest.fixture
def filled(make_app, tmp_path: Path):
    app = make_app()
    mis, lrs = tmp_path / "centre.csv", tmp_path / "lrs.csv"
    write_demo_files(mis, lrs, 120, 2026)
    import_csv(app, mis, ImportOptions(actor="test"))
    return app


@pytest.mark.parametrize("workers", [1, 2])
def test_verify_reports_positions_checked_up_to_the_last(filled, workers):
    progress = Recorded()
    result = verify_ledger(filled, page=100, workers=workers, progress=progress)
    assert result.problem is None
    assert progress.phases == [("Verifying", result.head.position)]
    done = [completed for _, completed, _ in progress.updates]
    assert done == sorted(done)
    if workers == 1:
        assert done[-1] == result.head.position
        assert len(done) == -(-result.head.position // 100)


def test_export_reports_the_verification_then_the_export(filled, tmp_path):
    progress = Recorded()
    summary = export_bundle(filled, "58231", tmp_path / "bundle.jsonl", progress=progress)
    assert [phase for phase, _ in progress.phases] == ["Verifying", "Exporting"]
    assert progress.phases[1] == ("Exporting", summary.digest.position)
    assert progress.updates[-1] == ("Exporting", summary.digest.position,
                                    summary.digest.events)
