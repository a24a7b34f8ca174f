"""The kept report rows judged by a rebuild's workers, by parallel re-judges, and in
committed batches: exactly the rows a serial refresh writes, and a re-judge killed part way
finished by the next refresh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ledger.reporting.rebuild as rebuild_module
import ledger.reporting.report_rows as report_rows
from aggregates.learner import Context
from ledger.app import LedgerApp
from ledger.bulk.workers import can_fork_workers
from ledger.reporting.fingerprint import rulebook_fingerprint
from ledger.reporting.rebuild import judge_in_parallel, rebuild
from ledger.reporting.report_rows import (
    RowsState,
    clear_rows,
    refresh_rows,
    rows_state,
)
from ledger.reporting.reports import catch_up, open_view
from ledger.rules.rulesets import load_rulebook
from tests.integration.reporting.test_parallel_rebuild import KILLED_REBUILD
from tests.integration.reporting.test_reports_incremental import kept_rows

CTX = Context(actor="rows", source="test")
ROOT = Path(__file__).resolve().parents[3]
LEARNERS = 12


def grown_ledger(app: LedgerApp, learners: int = LEARNERS) -> None:
    """Learners recorded over several transactions (so most have earlier versions, kept in
    the history tables), two enrolments for some, a late registration for others, and a
    retraction (a timeline that is not whole: its versions are folded from its events)."""
    for n in range(learners):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, f"L{n}", "E1", awarding_body="AIM", qualification="603/1/1",
                  title="Cert", start="2026-04-01", planned_end="2026-06-01")
    for n in range(0, learners, 3):
        app.enrol(CTX, f"L{n}", "E2", awarding_body="IMI", qualification="603/2/2",
                  title="Cert 2", start="2026-02-01", planned_end="2026-12-01")
    for n in range(0, learners, 2):
        app.register(CTX, f"L{n}", "E1", submitted="2026-04-20" if n % 4 else "2026-09-01")
    written = app.register(CTX, "L1", "E1", submitted="2026-05-02")
    app.retract(CTX, written[0], "recorded against the wrong learner")


def serial_rows(app: LedgerApp) -> list[Any]:
    """The kept rows as the serial refresh judges them from a one-process rebuild."""
    rebuild(app, open_view(app), workers=1)
    clear_rows(app)
    refresh_rows(app, load_rulebook(), workers=1)
    return kept_rows(app)


def needs_workers(app: LedgerApp) -> None:
    if not can_fork_workers(app.engine):
        pytest.skip("no worker processes on this platform")


def test_a_rebuild_judges_in_its_workers_the_rows_a_serial_refresh_writes(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    needs_workers(app)
    grown_ledger(app)
    book = load_rulebook()
    serial = serial_rows(app)
    assert all(serial[:5])  # current rows of every kind, and earlier versions in the history
    for workers, page in ((2, 5), (3, 40), (2, 10_000)):
        view = open_view(app)
        rebuild(app, view, workers=workers, page=page, book=book)
        assert kept_rows(app) == serial
        with app.engine.connect() as connection:
            assert rows_state(connection) == RowsState(view.max_tracking_id(app.name) or 0,
                                                       rulebook_fingerprint(book))
        assert refresh_rows(app, book) == 0  # nothing left for a second pass


def test_a_rebuild_with_the_rule_book_in_one_process_judges_every_learner(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    grown_ledger(app)
    serial = serial_rows(app)
    rebuild(app, open_view(app), workers=1, book=load_rulebook())
    assert kept_rows(app) == serial


def test_a_rejudge_by_worker_processes_writes_the_rows_a_serial_refresh_writes(
    make_app: Callable[[], LedgerApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    needs_workers(app)
    grown_ledger(app)
    serial = serial_rows(app)
    monkeypatch.setattr(report_rows, "PARALLEL_JUDGE_FROM", 5)
    monkeypatch.setattr(rebuild_module, "JUDGE_SHARE", 2)  # windows of 2 learners a worker
    judged: list[int] = []
    parallel = rebuild_module.judge_in_parallel

    def watched(*args: Any, **kwargs: Any) -> int:
        judged.append(parallel(*args, **kwargs))
        return judged[-1]

    monkeypatch.setattr(rebuild_module, "judge_in_parallel", watched)
    assert refresh_rows(app, load_rulebook(), full=True, workers=3) == LEARNERS
    assert judged == [LEARNERS]  # all of them by the workers
    assert kept_rows(app) == serial


def test_a_parallel_rejudge_writes_nothing_once_the_timelines_moved(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    needs_workers(app)
    grown_ledger(app)
    book = load_rulebook()
    view = open_view(app)
    catch_up(app, view)
    clear_rows(app)
    start = RowsState(-1, rulebook_fingerprint(book))
    with app.engine.begin() as connection:
        report_rows.write_rows_state(connection, start)
    moved = (view.max_tracking_id(app.name) or 0) - 1  # as if caught up since
    assert judge_in_parallel(app, book, start, moved, report_rows.NoProgress(), 2) == 0
    with app.engine.connect() as connection:
        assert rows_state(connection) == start
    assert not any(kept_rows(app))


# a re-judge (the rule book changed: every learner), 2 learners a batch, killed (SIGKILL) as
# it starts its second batch, after the first was committed
KILLED_REJUDGE = """
import os, signal, sys
import ledger.reporting.report_rows as report_rows
from ledger.app import LedgerApp
from ledger.rules.rulesets import load_rulebook

report_rows.REFRESH_CHUNK = 2
write = report_rows._write_learners
calls = []

def killed_at_second(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return write(*args, **kwargs)

report_rows._write_learners = killed_at_second
app = LedgerApp(sys.argv[1])
report_rows.refresh_rows(app, load_rulebook(), full=True, workers=1)
"""


def test_a_rejudge_killed_part_way_is_finished_by_the_next_refresh(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    grown_ledger(app)
    serial = serial_rows(app)
    killed = subprocess.run([sys.executable, "-c", KILLED_REJUDGE, app.url], cwd=ROOT,
                            env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with app.engine.connect() as connection:
        state = rows_state(connection)
    assert state is not None and state.position > 0  # the first batch, committed
    assert 0 < len(kept_rows(app)[0]) < LEARNERS
    assert refresh_rows(app, load_rulebook(), workers=1) == LEARNERS - 2
    assert kept_rows(app) == serial


def test_a_rebuild_killed_part_way_leaves_rows_the_next_refresh_judges_again(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    needs_workers(app)
    grown_ledger(app)
    serial = serial_rows(app)
    killed = subprocess.run([sys.executable, "-c", KILLED_REBUILD, app.url, "judged"], cwd=ROOT,
                            env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with app.engine.connect() as connection:
        assert rows_state(connection) is None  # some learners' rows, and no state
    assert 0 < len(kept_rows(app)[0]) < LEARNERS
    catch_up(app, open_view(app))
    assert refresh_rows(app, load_rulebook(), workers=1) == LEARNERS
    assert kept_rows(app) == serial
