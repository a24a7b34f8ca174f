"""The learner page on SQLite and PostgreSQL costs one learner: it reads that learner's events
and judges them alone, and says what the reports over every learner say of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from ledger.demo import write_demo_files
from ledger.imports.runner import ImportOptions, import_csv
from ledger.privacy.keys import KEYS_TABLE, PRELOAD_AFTER
from ledger.reporting.reports import current_timelines, timelines_as_at
from ledger.rules.rulesets import load_rulebook
from ledger.storage.persistence import EVENTS_TABLE
from ledger.web.shaping import judge_learner
from projections.late_registrations import late_registrations
from projections.maladministration import maladministration
from tests.integration.integrity.tampering import CTX
from tests.integration.web.test_web_app import client, log_in, user_name, written

BOOK = load_rulebook()
TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("learner-demo")
    export, results = folder / "centre.csv", folder / "centre-results.csv"
    write_demo_files(export, results, 30, 2026, TODAY)
    return export, results


@pytest.fixture
def centre(make_app: Any, demo_files: tuple[Path, Path]) -> Any:
    """A realistic centre of 30 learners (late, overdue, withdrawn, claimed...)."""
    app = make_app()
    for path in demo_files:
        import_csv(app, path, ImportOptions(actor="tester"))
    return app


def references(app: Any) -> list[tuple[str, str]]:
    timelines, _ = current_timelines(app)
    return sorted((t["reference"], t["centre"]) for t in timelines)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(on_days=st.integers(min_value=-400, max_value=200), as_at_share=st.sampled_from(
    [None, 0.3, 0.7]))
def test_a_learner_judged_alone_is_what_the_reports_over_every_learner_say_of_them(
        centre: Any, on_days: int, as_at_share: float | None) -> None:
    on = TODAY + timedelta(days=on_days)
    as_at = None
    if as_at_share is not None:
        stamps = sorted(e.timestamp for ref, c in references(centre)
                        for _, e in centre.learner_history(ref, c)[1])
        as_at = stamps[int(as_at_share * (len(stamps) - 1))]
    timelines = (timelines_as_at(centre, as_at) if as_at is not None
                 else current_timelines(centre)[0])
    every_row, every_unjudged = late_registrations(timelines, BOOK, on)
    every_finding = maladministration(timelines, BOOK, on)
    for reference, at in references(centre):
        events = centre.learner_history(reference, at)[1]
        alone = judge_learner(events, BOOK, on, as_at)
        assert alone.rows == [r for r in every_row if r.learner == reference]
        assert alone.unjudged == [u for u in every_unjudged if u.learner == reference]
        assert alone.findings == [f for f in every_finding if f.learner == reference]


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", record)


def add_learners(app: Any, first: int, count: int) -> None:
    for number in range(first, first + count):
        app.add_learner(CTX, "C1", f"L{number}", given_name="Ann", family_name="Lee",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, f"L{number}", "E1", awarding_body="IMI", qualification="603/1234/5",
                  title="Diploma", start="2026-04-01", planned_end="2027-01-29")


def shape(statement: str) -> str:
    """A statement with its numbers and its lists of bound values made alike."""
    listed = re.sub(r" IN \((?:[^()]|\([^()]*\))*\)", " IN (...)", statement)
    return re.sub(r"\d+", "N", listed)


def learner_page_statements(app: Any, role: str) -> list[str]:
    browser = client(app)
    log_in(browser, user_name(app, role))
    browser.get("/learners/L1")  # a first view: sessions, roles and caches warmed
    written(browser)
    with statements(app) as seen:
        page = browser.get("/learners/L1?on=2026-11-30")
        written(browser)  # the officer's view, recorded by the access log's writer
    assert page.status_code == 200
    assert "Registrations and findings judged on 2026-11-30" in page.text
    return seen


@pytest.mark.parametrize("role", ["officer", "eqa"])
def test_the_learner_page_reads_only_that_learner_whatever_the_number_of_learners(
        make_app: Any, role: str) -> None:
    app = make_app()
    add_learners(app, 1, 3)
    few = learner_page_statements(app, role)
    add_learners(app, 4, 40)
    many = learner_page_statements(app, role)
    # the same statements, whatever the number of learners (a list of this learner's
    # positions grows by the views of personal data recorded meanwhile)
    assert [shape(s) for s in many] == [shape(s) for s in few]
    report_tables = [s for s in many if "ledger_report" in s]
    assert report_tables == [], "the learner page read the report tables"
    event_reads = [s for s in many if s.startswith("SELECT") and f"FROM {EVENTS_TABLE}" in s]
    assert event_reads, "the learner page read no events"
    for statement in event_reads:
        assert re.search(rf"WHERE {EVENTS_TABLE}\.originator_id = ", statement) or re.search(
            r"WHERE .*originator_id = ", statement), f"a read of events by more than one " \
                                                     f"learner: {statement}"


@pytest.mark.parametrize("role", ["officer", "eqa"])
def test_the_server_never_reads_every_learners_key_however_many_pages_it_shows(
        make_app: Any, role: str) -> None:
    app = make_app()
    add_learners(app, 1, PRELOAD_AFTER + 5)
    browser = client(app)
    log_in(browser, user_name(app, role))
    with statements(app) as seen:
        for number in range(1, PRELOAD_AFTER + 6):
            assert browser.get(f"/learners/L{number}").status_code == 200
    key_reads = [s for s in seen if s.startswith("SELECT") and f"FROM {KEYS_TABLE}" in s]
    assert key_reads, "no learner key was read"
    every_key = [s for s in key_reads if "WHERE" not in s]
    assert every_key == [], "a learner page read every learner's key"
