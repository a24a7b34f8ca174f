"""bench/ilr.py runs end to end at a tiny size, so it cannot rot unnoticed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.bench.test_bench import load_script


def test_the_ilr_bench_imports_both_files_and_can_import_kept_files_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_script("ilr")
    kept = tmp_path / "kept"
    first = bench.main(["--learners", "30", "--keep", str(kept)])
    csv, ilr = first["sqlite_csv"], first["sqlite_ilr"]
    assert csv["events"] == ilr["events"] > 30 and ilr["stored_events"] > ilr["events"]
    assert ilr["events_per_s"] > 0 and ilr["cpu_seconds"] > 0
    assert set(ilr["passes"]) == {"checking", "importing"}
    assert "target >= 20,000" in capsys.readouterr().out
    again = bench.main(["--learners", "30", "--files", str(kept), "--json"])
    assert again["deliveries"] == first["deliveries"]
    assert again["sqlite_ilr"]["events"] == ilr["events"]
