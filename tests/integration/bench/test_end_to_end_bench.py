"""The bench's end-to-end parts: a `ledger` command timed as a fresh process, the memory of a
process tree, the monthly exports of the grown-ledger mode and the mode itself."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.common import SEED, write_export
from bench.memory import TreePeak
from bench.monthly import DATED, MONTHS, WITHDRAWAL, as_of, cut_offs, learners_by_month, parse_day
from bench.processes import run_ledger
from bench.steps import commands
from ledger.imports.layouts import MIS_EXPORT
from tests.integration.bench.test_bench import load_bench

TODAY = date(2026, 12, 7)


def test_a_command_is_timed_with_its_output_in_a_file_and_a_failure_reported(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    version = run_ledger(url, ["--version"], tmp_path / "out")
    assert version.exit_code == 0 and not version.failed
    assert version.output_bytes == (tmp_path / "out").stat().st_size > 0
    assert version.seconds > 0 and version.cpu_seconds > 0 and version.largest_mb > 1
    missing = run_ledger(url, ["audit", "NOBODY"], tmp_path / "out")
    assert missing.exit_code == 1 and missing.failed and "Error:" in missing.error
    assert not list(tmp_path.glob("out.stderr"))  # its standard error is kept in the result


def test_a_command_past_its_time_is_stopped_and_reported(tmp_path: Path) -> None:
    stopped = run_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", ["--help"], tmp_path / "out",
                         timeout=0.0)
    assert stopped.timed_out and stopped.failed and stopped.exit_code < 0


def test_the_memory_of_a_process_tree_counts_the_workers_it_started() -> None:
    # a parent that starts a child holding 80 MB of its own pages, both asleep a while
    worker = "b = b'x' * 80_000_000; import time; time.sleep(1.5)"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys; "
        f"subprocess.run([sys.executable, '-c', {worker!r}])")])
    with TreePeak(0.05, root=parent.pid) as memory:
        parent.wait()
    assert memory.peak_mb is not None and memory.peak_mb > 80  # summed over the tree
    assert memory.peak_rss_mb is not None and memory.peak_rss_mb >= memory.peak_mb
    assert memory.largest_mb is not None and 80 < memory.largest_mb < memory.peak_rss_mb


def final_rows(learners: int) -> list[dict[str, str]]:
    rows = []
    for months in learners_by_month(learners, SEED, TODAY):
        rows += months[-1]
    return rows


def test_the_last_month_is_the_export_the_standard_mode_imports(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_export(path, 40)
    with path.open(encoding="utf-8", newline="") as handle:
        whole = list(csv.DictReader(handle))
    months = list(learners_by_month(40, SEED, date.today()))  # the export's day
    last = [{column: row.get(column, "") for column in MIS_EXPORT.columns}
            for learner in months for row in learner[-1]]
    assert last == whole


FINALS = final_rows(400)


@settings(max_examples=40, deadline=None)
@given(days_back=st.integers(0, MONTHS * 30 + 60))
def test_a_months_row_holds_only_what_was_known_by_its_cut_off(days_back: int) -> None:
    cut_off = TODAY - timedelta(days=days_back)
    for final in FINALS:
        known = as_of(final, cut_off)
        start = parse_day(final["programme_start"])
        assert start is not None
        if known is None:
            assert start > cut_off
            continue
        assert start <= cut_off
        for column, cell in known.items():  # nothing made up, nothing from after the cut-off
            assert cell in ("", final[column])
            if column in DATED and cell:
                day = parse_day(cell)
                assert day is not None and day <= cut_off
        for column, dependents in DATED.items():
            if not known[column]:
                assert all(not known[dependent] for dependent in dependents)
        left = parse_day(known["withdrawal_left"])
        if left is not None:  # recorded with every fact dated after it
            assert all(known[column] == final[column] for column in DATED
                       if column not in WITHDRAWAL and (parse_day(final[column]) or left) > left)


def test_months_add_learners_and_facts_and_never_take_one_away() -> None:
    days = cut_offs(TODAY)
    assert len(days) == MONTHS and days[-1] == TODAY and days == sorted(days)
    moved = 0
    for months in learners_by_month(300, SEED, TODAY):
        for earlier, later in itertools.pairwise(months):
            assert len(earlier) <= len(later)
            for before, after in zip(earlier, later, strict=False):
                assert before["enrolment"] == after["enrolment"]
                for column in DATED:
                    assert not before[column] or before[column] == after[column]
                moved += any(before[column] != after[column] for column in ("postcode", "email")
                             if before[column] and after[column])
    assert moved > 0  # some learners' details are amended in a later month


def test_the_grown_mode_imports_the_months_then_reports_and_rebuilds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    report = bench.main(["--learners", "30", "--backend", "sqlite", "--mode", "grown",
                         "--steps", "", "--workdir", str(tmp_path)])
    grown = report["backends"]["sqlite"]["grown"]
    assert set(report["backends"]["sqlite"]) == {"grown"}
    months = grown["months"]
    assert len(months) == MONTHS and [month["rows"] for month in months] == grown["rows"]
    assert all(month["exit_code"] == 0 and month["cpu_seconds"] > 0 for month in months)
    assert months[0]["learners_new"] > 0 and months[0]["learners_updated"] == 0
    assert sum(month["learners_new"] for month in months) == 30
    assert sum(month["learners_updated"] for month in months[1:]) > 0  # facts of later months
    assert sum(month["learner_events"] for month in months) == grown["learner_events"]
    assert grown["index_events"] == 2 * 30
    assert list(grown["commands"]) == [name for name, _, _ in commands.plan("R", "T", False)]
    assert all(command["exit_code"] == 0 for command in grown["commands"].values())
    assert datetime.fromisoformat(grown["as_at"]).tzinfo is not None  # after month 5's import
    assert not list(tmp_path.glob("bench-month-*.csv"))  # the exports are removed
    out = capsys.readouterr().out
    assert "grown rebuild" in out and "month 10" in out
