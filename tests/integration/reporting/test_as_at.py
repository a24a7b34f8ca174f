"""`--as-at` without refolding the ledger: the learners changed since a moment, with their
timelines as recorded by it, put in place of the current ones, give the full as-at fold,
whatever order the recorded times were stored in."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.learner import Context, Learner
from ledger.app import LedgerApp
from ledger.reporting import as_at, reports
from ledger.reporting.as_at import (
    bucket_windows,
    changed_since,
    timelines_as_recorded,
    with_overrides,
)
from ledger.reporting.rebuild import rebuild
from ledger.reporting.reports import (
    catch_up,
    entry_pages,
    open_view,
    recorded_at,
    timelines_as_at,
)

CTX = Context(actor="property", source="hypothesis")
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
EXAMPLE = itertools.count()
LEARNERS = 4

# a step: commands on learners loaded together, then saved in the order given (so a later
# position can carry an earlier recorded time, as with concurrent writers), or a catch-up
writes = st.lists(st.integers(0, LEARNERS - 1), min_size=1, max_size=4, unique=True).flatmap(
    lambda chosen: st.tuples(st.just("write"), st.just(chosen), st.permutations(chosen)))
steps = st.lists(st.one_of(writes, st.tuples(st.just("catch-up"), st.integers(1, 5))),
                 min_size=3, max_size=12)


def write_out_of_order(app: LedgerApp, prefix: str, chosen: list[int],
                       order: list[int]) -> None:
    """A command on each chosen learner, in that order, saved in `order`."""
    loaded: dict[int, Learner] = {}
    for n in chosen:
        learner = loaded[n] = app.find_learner(f"{prefix}L{n}", "C1")
        if n % 2:
            learner.amend("family_name", f"King{learner.version}", "married",
                          date(2026, 5, 1), CTX)
        else:
            learner.verify_id("passport", date(2026, 5, 1), CTX)
    for n in order:
        app.save(loaded[n])


def by_learner(timelines: list[dict[str, Any]]) -> dict[str, Any]:
    return {t["learner_id"]: t for t in timelines}


@pytest.fixture
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets of 3 positions: a handful of events spans several."""
    monkeypatch.setattr(reports, "MOMENT_BUCKET", 3)
    monkeypatch.setattr(as_at, "MOMENT_BUCKET", 3)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, picks=st.lists(st.tuples(st.integers(0, 10_000), st.integers(-1, 1)),
                                   min_size=1, max_size=4))
def test_the_current_timelines_with_those_changed_since_a_moment_are_the_full_as_at_fold(
    make_app: Callable[[], LedgerApp], small_buckets: None, steps: list[tuple[Any, ...]],
    picks: list[tuple[int, int]],
) -> None:
    app = make_app() if not hasattr(make_app, "app") else make_app.app  # type: ignore[attr-defined]
    make_app.app = app  # type: ignore[attr-defined]
    view = open_view(app)
    prefix = f"X{next(EXAMPLE)}"
    for n in range(LEARNERS - 1):  # the last learner is added by a step, maybe never
        app.add_learner(CTX, "C1", f"{prefix}L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
    added = set(range(LEARNERS - 1))
    for step in steps:
        if step[0] == "catch-up":
            catch_up(app, view, limit=step[1], page=2)
            continue
        _, chosen, order = step
        for n in set(chosen) - added:
            app.add_learner(CTX, "C1", f"{prefix}L{n}", given_name="Bo", family_name="Hill",
                            date_of_birth="2001-01-01", gender="1")
            added.add(n)
        write_out_of_order(app, prefix, chosen, order)
    times = sorted(recorded_at(e) for batch in entry_pages(app) for e in batch)
    moments = [LONG_AGO, FAR_FUTURE] + [
        times[index % len(times)] + shift * timedelta(microseconds=1) for index, shift in picks]
    done = view.max_tracking_id(app.name) or 0
    stored = list(view.rows())  # the reports as caught up to `done`, maybe not to the end
    for moment in moments:
        expected = timelines_as_at(app, moment)
        changed = changed_since(app, moment)
        assert with_overrides(stored, changed) == expected, moment
        after = {e.learner_id for batch in entry_pages(app) for e in batch
                 if recorded_at(e) > moment or e.position > done}
        assert set(changed) == after  # exactly those learners: no more, no fewer
        assert {k for k, t in changed.items() if t is None} == after - set(by_learner(expected))
    for moment in moments:  # each way of the report's, the reports catching up meanwhile
        expected = timelines_as_at(app, moment)
        assert timelines_as_recorded(app, moment, by_changes=False) == expected
        assert timelines_as_recorded(app, moment, by_changes=True) == expected
        assert timelines_as_recorded(app, moment, "C1") == expected


def test_events_stored_out_of_recorded_order_are_found_however_far_apart(
    make_app: Callable[[], LedgerApp], small_buckets: None,
) -> None:
    """An event recorded after the moment, stored among events recorded before it (and
    before a long run of them), still counts: its bucket's latest time says so."""
    app = make_app()
    for n in range(3):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
    early = app.find_learner("L0", "C1")
    early.verify_id("passport", date(2026, 5, 1), CTX)  # recorded now, saved last
    moment = datetime.now(UTC)
    for _ in range(7):
        app.verify_id(CTX, "L1", "passport", date(2026, 5, 1))
    late = app.find_learner("L2", "C1")
    late.verify_id("passport", date(2026, 5, 1), CTX)
    app.save(late)
    app.save(early)  # stored last, recorded before the moment
    view = open_view(app)
    catch_up(app, view)
    changed = changed_since(app, moment)
    assert set(changed) == {str(app.find_learner(r, "C1").id) for r in ("L1", "L2")}
    assert with_overrides(list(view.rows()), changed) == timelines_as_at(app, moment)
    rebuild(app, view, workers=2, page=4)  # the parallel rebuild writes the same buckets
    assert changed_since(app, moment) == changed


def test_bucket_windows_join_neighbours_and_stop_at_the_position_caught_up_to(
    small_buckets: None,
) -> None:
    assert bucket_windows([0, 1, 3, 5], 16) == [(0, 5), (8, 11), (14, 16)]
    assert bucket_windows([7], 16) == []


def test_reports_caught_up_by_a_version_without_the_moments_are_folded_again(
    make_app: Callable[[], LedgerApp],
) -> None:
    """Without the moments of the positions already folded, `changed_since` would miss
    their learners: opening the reports clears them, and the next catch-up folds all."""
    app = make_app()
    app.add_learner(CTX, "C1", "L0", given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    view = open_view(app)
    catch_up(app, view)
    view.moments.drop(app.engine)  # as an earlier version left them
    view = open_view(app)
    assert view.max_tracking_id(app.name) is None
    catch_up(app, view)
    assert set(changed_since(app, moment)) == {str(app.find_learner("L0", "C1").id)}
