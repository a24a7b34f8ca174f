"""The storing bench runs at a tiny size, and each of its ways stores what the import would."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text

from bench import storing
from ledger.app import LedgerApp
from ledger.integrity.verify import verify_ledger


def rows_of(learners: int) -> int:
    return sum(len(storing.learner_events(n)) + len(storing.INDEX) for n in range(learners))


def test_the_storing_bench_times_every_way_on_the_same_rows_and_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "not" / "made" / "yet"
    result = storing.main(["--learners", "40", "--rounds", "2", "--workdir", str(workdir)])
    assert result["rows"] == rows_of(40) and result["rounds"] == 2
    assert list(result["ways"]) == list(storing.WAYS)
    for figures in result["ways"].values():
        assert len(figures["rounds_seconds"]) == 2 and figures["seconds"] > 0
    assert result["ways"]["raw"]["over_raw"] == 1.0
    assert list(workdir.iterdir()) == []  # made, and left empty
    assert "storing " in capsys.readouterr().out


def test_batches_are_the_same_every_time_but_for_the_states_bytes() -> None:
    def shape(batches: list) -> list:
        return [([(*row[:3], len(row[3])) for row in rows], ids) for rows, _, ids in batches]

    first, again = (list(storing.batches(4_000)) for _ in range(2))
    assert len(first) == 3  # 1,850 learners a batch
    assert shape(first) == shape(again)
    assert first[0][0][0][3] != again[0][0][0][3]


@pytest.mark.parametrize("way", storing.WAYS)
def test_each_way_stores_every_row_and_the_storing_way_a_chain_that_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    monkeypatch.setenv("LEDGER_MASTER_KEY", storing.BENCH_KEY)
    app = LedgerApp(f"sqlite:///{tmp_path / 'ledger.db'}")
    with closing(app.engine.raw_connection()) as driver:
        save = storing.store(app, way, driver)
        for rows, hashes, ids in storing.batches(30):
            save(rows, hashes, storing.key_rows(app, way, ids))
    table = "bench_raw" if way == "raw" else "ledger_events"
    with app.engine.connect() as connection:
        count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        keys = connection.execute(text("SELECT count(*) FROM ledger_learner_keys")).scalar_one()
    assert count == rows_of(30)
    assert keys == (30 if way == "storing" else 0)
    if way in ("chained", "storing"):
        result = verify_ledger(app)
        assert result.ok and result.events == rows_of(30)
    app.close()
