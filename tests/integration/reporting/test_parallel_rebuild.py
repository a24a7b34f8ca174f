"""A rebuild folded by worker processes: the same timelines, and failures raised, not lost."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError, Tracking

import ledger.reporting.rebuild
from aggregates.learner import Context
from ledger.app import LedgerApp
from ledger.bulk.workers import can_fork_workers, worker_count
from ledger.reporting.plain_events import UnreadableState
from ledger.reporting.rebuild import RebuildWorkerFailed, fold_in_parallel, rebuild
from ledger.reporting.reports import PAGE_SIZE, catch_up, entry_pages, last_position, open_view
from ledger.storage.persistence import SQLITE_BULK_CACHE_KIB

CTX = Context(actor="parallel", source="test")
ROOT = Path(__file__).resolve().parents[3]
TITLE = 'Cert "A" \\ B'  # quotes and a backslash: escaped in JSON and again in COPY


def ledger_of(app: LedgerApp, learners: int) -> None:
    for n in range(learners):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, f"L{n}", "E1", awarding_body="AIM", qualification="603/1/1",
                  title=TITLE, start="2026-04-01", planned_end="2026-06-01")
    for n in range(0, learners, 2):  # later events: each such learner spans many windows
        app.register(CTX, f"L{n}", "E1", submitted="2026-04-20")


def test_workers_folding_shares_of_the_learners_give_the_serial_rebuild(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    ledger_of(app, 12)
    view = open_view(app)
    assert rebuild(app, view, workers=1) == 30
    serial = list(view.rows())
    assert {t["facts"][1]["values"]["qualification_title"] for t in serial} == {TITLE}
    for workers, page in ((2, 5), (3, 1), (4, 1000)):
        assert rebuild(app, view, workers=workers, page=page) == 30
        assert list(view.rows()) == serial
        assert view.max_tracking_id(app.name) == last_position(app)


def test_a_parallel_fold_writes_nothing_once_another_process_has_moved_the_reports(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    ledger_of(app, 4)
    view = open_view(app)
    catch_up(app, view, limit=3)
    before, done = list(view.rows()), view.max_tracking_id(app.name)
    assert fold_in_parallel(app, view, last_position(app), workers=2, page=4) == 0
    assert list(view.rows()) == before
    assert not view.replace([], Tracking(app.name, 99), after=0)
    assert view.max_tracking_id(app.name) == done


def test_an_unreadable_event_met_by_a_worker_fails_the_rebuild_with_its_error(
    make_app: Callable[[], LedgerApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    ledger_of(app, 4)

    def unreadable(*_: Any) -> None:
        raise UnreadableState("event 3 holds a 'decimal_str' value the reports cannot read")

    # the forked workers inherit it
    monkeypatch.setattr(ledger.reporting.rebuild, "fold", unreadable)
    with pytest.raises(UnreadableState, match="event 3 holds"):
        rebuild(app, open_view(app), workers=2)


def test_a_worker_that_dies_fails_the_rebuild(
    make_app: Callable[[], LedgerApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    ledger_of(app, 4)
    monkeypatch.setattr(ledger.reporting.rebuild, "fold", lambda *_: os._exit(3))
    with pytest.raises(RebuildWorkerFailed, match="stopped unexpectedly"):
        rebuild(app, open_view(app), workers=2)


def test_a_batch_read_from_a_position_the_reports_have_left_is_refused(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    ledger_of(app, 2)
    view = open_view(app)
    catch_up(app, view, limit=2)
    done = view.max_tracking_id(app.name)
    view.clear(app.name)  # as a rebuild does, while this client was reading from `done`
    batch = [e for page in entry_pages(app, after=done) for e in page]
    assert view.apply(batch, Tracking(app.name, batch[-1].position), after=done) == 0
    assert list(view.rows()) == [] and view.max_tracking_id(app.name) is None
    catch_up(app, view)
    caught_up = list(view.rows())
    rebuild(app, view, workers=1)
    assert caught_up == list(view.rows())


def test_an_in_memory_ledger_is_rebuilt_in_one_process_whatever_is_asked() -> None:
    app = LedgerApp("sqlite:///:memory:")
    ledger_of(app, 3)
    view = open_view(app)
    assert rebuild(app, view, workers=4) == 8
    assert not can_fork_workers(app.engine)


def test_small_ledgers_are_verified_and_rebuilt_in_one_process_large_ones_on_every_core(
    make_app: Callable[[], LedgerApp],
) -> None:
    engine = make_app().engine
    assert worker_count(engine, 10) == 1
    assert worker_count(engine, 10**6) == max(1, min(os.cpu_count() or 1, 8))


def timeline_rows(count: int, position: int = 1) -> list[dict[str, Any]]:
    return [{"learner_id": f"learner-{n:05d}", "centre": "C1", "reference": f"L{n}",
             "position": position, "timeline": f'{{"n": {n}}}'} for n in range(count)]


def test_on_sqlite_a_rebuild_window_is_written_with_the_bulk_page_cache(tmp_path) -> None:
    app = LedgerApp(f"sqlite:///{tmp_path / 'ledger.db'}")
    view = open_view(app)

    def cache_size(session: Any) -> int:  # in KiB when negative; SQLite's default is -2000
        return session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one()

    with view.transaction(commit=True) as session:
        view._write(session, timeline_rows(PAGE_SIZE))  # a catch-up's page
        small = cache_size(session)
        view._write(session, timeline_rows(PAGE_SIZE + 1, position=2))  # a rebuild's window
        large = cache_size(session)
    assert (small, large) == (-2000, -SQLITE_BULK_CACHE_KIB)
    assert len(list(view.rows())) == PAGE_SIZE + 1  # the second write replaced the first's
    assert {row["n"] for row in view.rows()} == set(range(PAGE_SIZE + 1))


def test_a_row_the_table_refuses_fails_the_whole_window_as_a_database_error(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    view = open_view(app)
    rows = timeline_rows(3)
    rows[2]["timeline"] = None
    with pytest.raises(OperationalError, match=r"(?i)could not write the reports: .*null"):
        view.replace(rows, Tracking(app.name, 5), after=0)
    assert list(view.rows()) == []
    assert view.max_tracking_id(app.name) is None


def test_the_rebuild_writes_its_windows_with_the_cyclic_collector_paused(
    make_app: Callable[[], LedgerApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    if not can_fork_workers(app.engine):
        pytest.skip("no worker processes on this platform")
    ledger_of(app, 6)
    view = open_view(app)
    collecting: list[bool] = []
    replace = type(view).replace

    def watched(self: Any, *args: Any, **kwargs: Any) -> bool:
        collecting.append(gc.isenabled())
        return replace(self, *args, **kwargs)

    monkeypatch.setattr(type(view), "replace", watched)
    assert gc.isenabled()
    assert rebuild(app, view, workers=2, page=4) == 15
    assert collecting and not any(collecting)
    assert gc.isenabled()


# a rebuild by two workers, a learner range per window, killed (SIGKILL) as soon as its first
# window of timelines is written, before the tracking position is; with the argument
# `judged` after the URL, judging the kept rows with the rule book as it folds
KILLED_REBUILD = """
import os, signal, sys
from ledger.app import LedgerApp
from ledger.reporting.rebuild import rebuild
from ledger.reporting.reports import ReportsView, open_view
from ledger.rules.rulesets import load_rulebook

write = ReportsView.replace

def killed_after_first(self, rows, *args, **kwargs):
    written = write(self, rows, *args, **kwargs)
    if rows:  # the first range with learners (small ranges of a small ledger can be empty)
        os.kill(os.getpid(), signal.SIGKILL)
    return written

ReportsView.replace = killed_after_first
app = LedgerApp(sys.argv[1])
book = load_rulebook() if sys.argv[2:] == ["judged"] else None
rebuild(app, open_view(app), workers=2, page=4, book=book)
"""


def test_a_rebuild_killed_part_way_is_finished_by_the_next_catch_up(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    ledger_of(app, 12)
    view = open_view(app)
    rebuild(app, view, workers=1)
    serial = list(view.rows())
    killed = subprocess.run([sys.executable, "-c", KILLED_REBUILD, app.url], cwd=ROOT,
                            env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    written = list(view.rows())
    assert 0 < len(written) < len(serial)  # whole timelines of some learners, no position
    assert view.max_tracking_id(app.name) is None
    assert catch_up(app, view) == 30  # every event read again, those written passed over
    assert list(view.rows()) == serial
