"""The kept rows standing at any moment answer a report as recorded by that moment exactly as
folding every event recorded by then does: at random moments, on random judging dates, with
retractions (a learner whose timeline lacks events), refreshes at random points, and events
written after the last refresh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger.app import LedgerApp
from ledger.reporting.as_at import timelines_as_recorded
from ledger.reporting.history_queries import HistoryReport
from ledger.reporting.rebuild import catch_up_all
from ledger.reporting.report_queries import TimelinesReport
from ledger.reporting.report_rows import HISTORY_TABLES, refresh_rows
from ledger.reporting.reports import open_view
from ledger.rules.rulesets import load_rulebook
from tests.integration.reporting.test_kept_rows import BODIES, ONS
from tests.integration.reporting.test_reports_incremental import (
    EXAMPLE,
    commands,
    enrols,
    record,
    steps,
    three_learners,
)

EARLY = datetime(2000, 1, 1, tzinfo=UTC)


def refresh(app: LedgerApp) -> None:
    catch_up_all(app, open_view(app))
    refresh_rows(app, load_rulebook())


def assert_same_as_the_fold(app: LedgerApp, moment: datetime, on: date,
                            body: str | None) -> None:
    book = load_rulebook()
    kept = HistoryReport(app, book, on, moment, body)
    timelines = timelines_as_recorded(app, moment, by_changes=False)
    folded = TimelinesReport(timelines, book, on, body)
    assert list(kept.registrations()) == list(folded.registrations())
    assert list(kept.registrations(by="learner")) == list(folded.registrations(by="learner"))
    assert kept.status_counts() == folded.status_counts()
    assert kept.unjudged() == folded.unjudged()
    expected = list(folded.findings())
    found = list(kept.findings())
    assert found == expected
    assert [f.citation for f in found] == [f.citation for f in expected]
    assert kept.recorded_position() == max(
        (t["position"] for t in timelines if t["centre"] is not None), default=0)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments=st.lists(enrols, min_size=3, max_size=3), steps=steps,
       after=st.lists(commands, max_size=3), picks=st.lists(st.integers(0, 10_000),
                                                             min_size=3, max_size=3),
       ons=st.lists(ONS, min_size=3, max_size=3), body=BODIES)
def test_the_rows_standing_at_a_moment_equal_the_fold_up_to_it(
    make_app: Callable[[], LedgerApp], enrolments: list[tuple[Any, ...]],
    steps: list[tuple[str, Any]], after: list[tuple[Any, ...]], picks: list[int],
    ons: list[date], body: str | None,
) -> None:
    app = make_app() if not hasattr(make_app, "app") else make_app.app  # type: ignore[attr-defined]
    make_app.app = app  # type: ignore[attr-defined]
    prefix = f"H{next(EXAMPLE)}"
    moments = [datetime.now(UTC)]
    written = three_learners(app, prefix, enrolments)
    moments.append(datetime.now(UTC))
    for step, argument in steps:
        if step == "record":
            record(app, prefix, argument, written)
        else:
            refresh(app)
        moments.append(datetime.now(UTC))
    refresh(app)
    for command in after:  # written after the kept rows were judged
        record(app, prefix, (command[0], *command[1:]), written)
        moments.append(datetime.now(UTC))
    chosen = [EARLY, moments[-1] + timedelta(days=1),
              *(moments[pick % len(moments)] for pick in picks)]
    for moment, on in zip(chosen, [*ons, *ons], strict=False):
        assert_same_as_the_fold(app, moment, on, body)


def test_a_learner_changed_in_three_transactions_has_three_versions(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    written = three_learners(app, "V", [("enrol", 0, "AIM", 10, 60)] * 3)
    record(app, "V", ("submit", 0, date(2026, 4, 20)), written)
    refresh(app)
    with app.engine.connect() as connection:
        learners, registrations, _ = (
            connection.execute(select(func.count()).select_from(table)).scalar()
            for table in HISTORY_TABLES)
    # L0 recorded, enrolled, submitted (three moments): two earlier versions; L1, L2: one
    assert learners == 2 + 1 + 1
    assert registrations == 1  # L0 enrolled, not yet submitted
