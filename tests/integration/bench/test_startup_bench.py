"""The start-up bench runs end to end at a tiny size, this code against another checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_startup_bench_times_every_command_against_another_checkout(tmp_path: Path) -> None:
    other = tmp_path / "other"  # a copy of this code stands for another commit's
    for package in ("cli", "ledger", "aggregates", "projections"):
        shutil.copytree(ROOT / package, other / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "startup.py"), "--rounds", "1", "--learners", "3",
         "--workdir", str(tmp_path), "--against", str(other), "--json"],
        capture_output=True, text=True, check=True)
    rows = {row["command"]: row for row in json.loads(result.stdout)["commands"]}
    for name in ("--version", "--help", "audit", "amend"):
        assert rows[f"ledger {name}"]["target_excess_s"] is not None, name
        assert rows[f"ledger {name} @ {other}"]["target_excess_s"] is None, name
        assert rows[f"ledger {name}"]["cpu_s"] > 0
    assert rows["python -c pass"]["ratio"] == 1.0
