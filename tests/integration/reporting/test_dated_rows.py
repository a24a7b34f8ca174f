"""A report on a date many learners are not yet stable on reads rows judged for spans of dates
(the dated tables) and says exactly what judging every timeline on that date says."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import LedgerApp
from ledger.reporting import dated_rows
from ledger.reporting.dated_rows import DatedReport, judge_dated, judging_span, report_on
from ledger.reporting.report_queries import KeptReport
from ledger.reporting.report_rows import refresh_rows
from ledger.reporting.reports import current_timelines
from ledger.rules.rulesets import load_rulebook
from projections.late_registrations import late_registrations
from projections.maladministration import maladministration
from projections.timeline import as_on
from tests.integration.reporting.test_kept_rows import BODIES, ONS
from tests.integration.reporting.test_reports_incremental import (
    BASE,
    caught_up,
    enrols,
    played,
    steps,
    three_learners,
)


def assert_same_reports(app: LedgerApp, on: date, body: str | None) -> None:
    book = load_rulebook()
    timelines, _ = current_timelines(app)
    kept = DatedReport(app, book, on, body)
    rows, unjudged = late_registrations(timelines, book, on, body)
    assert list(kept.registrations()) == rows
    assert list(kept.registrations(("late", "at-risk"), limit=2)) == [
        row for row in rows if row.status in ("late", "at-risk")][:2]
    assert kept.status_counts() == Counter(row.status for row in rows)
    assert kept.unjudged() == unjudged
    widths = kept.widths()
    for row in rows:
        assert widths["learner"] >= len(row.learner)
        assert widths["awarding_body"] >= len(row.awarding_body)
    expected = maladministration(timelines, book, on, body)
    found = list(kept.findings())
    assert found == expected
    assert [f.citation for f in found] == [f.citation for f in expected]


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments=st.lists(enrols, min_size=3, max_size=3), steps=steps,
       ons=st.lists(ONS, min_size=3, max_size=3), body=BODIES)
def test_dated_rows_give_the_reports_of_the_timelines_on_any_date(
    make_app: Callable[[], LedgerApp], enrolments: list[tuple[Any, ...]],
    steps: list[tuple[str, Any]], ons: list[date], body: str | None,
) -> None:
    def between(app: LedgerApp, argument: int) -> None:
        caught_up(app)
        assert_same_reports(app, ons[argument % 3], body)  # dated rows kept, then some
                                                            # judged again
    app = played(make_app, "D", enrolments, steps, between)
    caught_up(app)
    for on in ons:
        assert_same_reports(app, on, body)


def test_a_span_is_judged_once_for_every_date_in_it(
    make_app: Callable[[], LedgerApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    three_learners(app, "S", [("enrol", n, "AIM", 10 * n, 60) for n in range(3)])
    timelines, _ = current_timelines(app)
    refresh_rows(app, load_rulebook())
    on = BASE + timedelta(days=12)  # L0 enrolled (day 0); L1 (day 10); L2 not yet (day 20)
    assert judge_dated(app, load_rulebook(), on) == 1
    assert judge_dated(app, load_rulebook(), on + timedelta(days=7)) == 0  # the same span
    assert judge_dated(app, load_rulebook(), on + timedelta(days=8)) == 0  # all stable
    # L1 not yet enrolled either; L2's span, from its first dated fact, covers that day
    assert judge_dated(app, load_rulebook(), on - timedelta(days=3)) == 1
    (late,) = [t for t in timelines if t["reference"] == "SL2"]
    assert judging_span(late, on) == (0, (BASE + timedelta(days=20)).toordinal())
    assert as_on(late, on)["facts"] == late["facts"][:1]
    monkeypatch.setattr(dated_rows, "IN_MEMORY_LEARNERS", 0)
    assert type(report_on(app, load_rulebook(), on)) is DatedReport
    assert type(report_on(app, load_rulebook(), BASE + timedelta(days=400))) is KeptReport
