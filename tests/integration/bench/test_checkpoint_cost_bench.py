"""The checkpoint-cost bench runs at a tiny size and really signs checkpoints in its modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import checkpoint_cost


def test_the_checkpoint_bench_times_each_mode_against_no_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rates = checkpoint_cost.measure(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, 2, 2)
    assert list(rates) == list(checkpoint_cost.MODES)
    assert all(rate > 0 for rate in rates.values())
    log = (tmp_path / "bench.checkpoints").read_text().splitlines()
    assert len(log) == 2 * 2  # every save of the "every save" mode, none from the others
    checkpoint_cost.report("sqlite", rates)
    assert capsys.readouterr().out.count("ratio to off") == 3
