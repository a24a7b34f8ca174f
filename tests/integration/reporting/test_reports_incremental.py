"""Incremental catch-up in random chunks gives exactly what a full rebuild gives."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.errors import LedgerError
from aggregates.learner import Context
from ledger.app import LedgerApp
from ledger.reporting.dated_rows import judge_dated
from ledger.reporting.rebuild import rebuild
from ledger.reporting.report_rows import JUDGED_TABLES, clear_rows, refresh_rows
from ledger.reporting.reports import (
    catch_up,
    current_timelines,
    entry_pages,
    last_position,
    notifications,
    open_view,
    timelines_as_at,
)
from ledger.reporting.table_check import check_report_tables
from ledger.rules.rulesets import load_rulebook
from projections.late_registrations import late_registrations
from projections.maladministration import maladministration
from projections.timeline import apply_event, new_timeline

CTX = Context(actor="property", source="hypothesis")
BASE = date(2026, 4, 1)
ON = date(2026, 11, 1)
DATES = (BASE - timedelta(days=5), BASE + timedelta(days=40), BASE + timedelta(days=130))
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
EXAMPLE = itertools.count()

days = st.integers(0, 150).map(lambda n: BASE + timedelta(days=n))
learners = st.integers(0, 5)  # learner n % 3, enrolment E1 (n < 3) or E2
enrols = st.tuples(st.just("enrol"), learners, st.sampled_from(["AIM", "IMI", "GATEWAY"]),
                   st.integers(0, 120), st.sampled_from([60, 105, 106, 300]))
commands = st.one_of(
    enrols,
    st.tuples(st.just("submit"), learners, days),
    st.tuples(st.just("confirm"), learners, days),
    st.tuples(st.just("reject"), learners, days),
    st.tuples(st.just("assess"), learners, days),
    st.tuples(st.just("withdraw"), learners, days),
    st.tuples(st.just("iqa"), learners, days),
    st.tuples(st.just("claim"), learners, days),
    st.tuples(st.just("lrs"), learners, st.sampled_from(["WSVRC001", "WSVRC006"]), days),
    st.tuples(st.just("amend"), learners, st.sampled_from(["Byron", "King", "Noel"])),
    st.tuples(st.just("retract"), st.integers(0, 1000)),
)
steps = st.lists(st.one_of(
    st.tuples(st.just("record"), commands),
    st.tuples(st.just("catch-up"), st.integers(1, 6)),
), min_size=6, max_size=20)


def three_learners(app: LedgerApp, prefix: str,
                   enrolments: list[tuple[Any, ...]]) -> list[int]:
    """Three learners, each enrolled as the strategy drew; the positions written."""
    written: list[int] = []
    for n in range(3):
        written.extend(app.add_learner(
            CTX, "C1", f"{prefix}L{n}", given_name="Ada", family_name="Lovelace",
            date_of_birth="2000-01-01", gender="2", uln="1000000043"))
        record(app, prefix, (enrolments[n][0], n, *enrolments[n][2:]), written)
    return written


def caught_up(app: LedgerApp) -> None:
    """The timelines caught up and the kept rows judged, as a report leaves them."""
    current_timelines(app)
    refresh_rows(app, load_rulebook())


def played(make_app: Callable[[], LedgerApp], letter: str, enrolments: list[tuple[Any, ...]],
           steps: list[tuple[str, Any]], between: Callable[[LedgerApp, Any], object],
           ) -> LedgerApp:
    """A property test's example on the ledger its examples share (a prefix of its own): three
    learners, then the steps, `between(app, argument)` at each step that is not a record."""
    app = make_app() if not hasattr(make_app, "app") else make_app.app  # type: ignore[attr-defined]
    make_app.app = app  # type: ignore[attr-defined]
    prefix = f"{letter}{next(EXAMPLE)}"
    written = three_learners(app, prefix, enrolments)
    for step, argument in steps:
        if step == "record":
            record(app, prefix, argument, written)
        else:
            between(app, argument)
    return app


def record(app: LedgerApp, prefix: str, command: tuple[Any, ...], written: list[int]) -> None:
    kind, *args = command
    if kind == "retract":
        with contextlib.suppress(LedgerError):
            written.extend(app.retract(CTX, written[args[0] % len(written)], "error"))
        return
    ref, enrolment = f"{prefix}L{args[0] % 3}", "E1" if args[0] < 3 else "E2"
    actions: dict[str, Callable[[], list[int]]] = {
        "enrol": lambda: app.enrol(
            CTX, ref, enrolment, awarding_body=args[1], qualification="603/1/1", title="Cert",
            start=BASE + timedelta(days=args[2]),
            planned_end=BASE + timedelta(days=args[2] + args[3])),
        "submit": lambda: app.register(CTX, ref, enrolment, submitted=args[1]),
        "confirm": lambda: app.register(CTX, ref, enrolment, confirmed=args[1], ao_ref="R1"),
        "reject": lambda: app.register(CTX, ref, enrolment, rejected=args[1], reason="capitals"),
        "assess": lambda: app.start_assessment(CTX, ref, enrolment, args[1]),
        "withdraw": lambda: app.withdraw(CTX, ref, enrolment, left=args[1], reason="left"),
        "iqa": lambda: app.sign_off_iqa(CTX, ref, enrolment, args[1]),
        "claim": lambda: app.submit_claim(CTX, ref, enrolment, args[1]),
        "lrs": lambda: app.record_lrs_result(CTX, ref, args[1], args[2]),
        "amend": lambda: app.amend(CTX, ref, {"family_name": args[1]}, "married"),
    }
    with contextlib.suppress(LedgerError):  # a refused command records nothing
        written.extend(actions[kind]())


def folded_from_domain_events(app: LedgerApp) -> list[dict[str, Any]]:
    """The timelines folded from decoded domain events (personal data opened), the way
    replays and the library's projection runner fold them, not from the stored JSON."""
    timelines: dict[str, Any] = {}
    for batch in notifications(app):
        for position, event in batch:
            key = str(event.originator_id)
            apply_event(timelines.setdefault(key, new_timeline(key)), position, event)
    return sorted(timelines.values(), key=lambda t: t["learner_id"])


def kept_rows(app: LedgerApp) -> list[list[tuple[Any, ...]]]:
    """Every row of the kept report tables, in key order."""
    with app.engine.connect() as connection:
        return [sorted((tuple(row) for row in connection.execute(table.select())),
                       key=lambda row: [(value is not None, value) for value in row])
                for table in JUDGED_TABLES]


def kept_moments(app: LedgerApp) -> list[tuple[Any, ...]]:
    """The moments table (each bucket's earliest and latest recorded time), in bucket order."""
    moments = open_view(app).moments
    with app.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            moments.select().order_by(moments.c.bucket))]


def reports(timelines: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    book = load_rulebook()
    rows, _ = late_registrations(timelines, book, ON)
    return [r.as_row() for r in rows], [f.as_row() for f in maladministration(timelines, book, ON)]


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments=st.lists(enrols, min_size=3, max_size=3), steps=steps,
       pages=st.integers(1, 12))
def test_catching_up_in_random_chunks_equals_a_full_rebuild(
    make_app: Callable[[], LedgerApp], enrolments: list[tuple[Any, ...]],
    steps: list[tuple[str, Any]], pages: int,
) -> None:
    app = make_app() if not hasattr(make_app, "app") else make_app.app  # type: ignore[attr-defined]
    make_app.app = app  # type: ignore[attr-defined]
    view = open_view(app)
    prefix = f"X{next(EXAMPLE)}"
    written = three_learners(app, prefix, enrolments)
    for step, argument in steps:
        if step == "record":
            record(app, prefix, argument, written)
        else:
            catch_up(app, view, limit=argument)
            refresh_rows(app, load_rulebook())
            judge_dated(app, load_rulebook(), DATES[argument % len(DATES)])
    catch_up(app, view)
    refresh_rows(app, load_rulebook())
    for on in DATES:
        judge_dated(app, load_rulebook(), on)
    incremental = list(view.rows())
    incremental_rows = kept_rows(app)
    incremental_moments = kept_moments(app)
    checked = check_report_tables(app, load_rulebook())  # what `verify --reports` compares
    assert checked.ok and checked.not_yet_judged == 0, checked.shown
    in_memory = timelines_as_at(app, FAR_FUTURE)
    rebuild(app, view, workers=1)
    rebuilt = list(view.rows())
    assert incremental == rebuilt == in_memory == folded_from_domain_events(app)
    assert kept_moments(app) == incremental_moments
    clear_rows(app)
    refresh_rows(app, load_rulebook())
    for on in DATES:
        judge_dated(app, load_rulebook(), on)
    assert kept_rows(app) == incremental_rows  # judged as they came == judged all at once
    assert reports(incremental) == reports(rebuilt)
    last_learner_event = max(p for batch in notifications(app) for p, _ in batch)
    assert view.max_tracking_id(app.name) == last_learner_event
    rebuild(app, view, workers=3, page=pages)  # learners' events span the windows
    assert list(view.rows()) == incremental
    assert view.max_tracking_id(app.name) == last_position(app)


def test_catch_up_reads_only_events_not_yet_processed(make_app: Callable[[], LedgerApp]) -> None:
    app = make_app()
    view = open_view(app)
    app.add_learner(CTX, "C1", "L1", given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    assert catch_up(app, view) == 1
    assert catch_up(app, view) == 0
    app.enrol(CTX, "L1", "E1", awarding_body="AIM", qualification="603/1/1", title="Cert",
              start="2026-04-01", planned_end="2026-06-01")
    assert catch_up(app, view) == 1
    (timeline,) = view.rows()
    assert [f["event"] for f in timeline["facts"]] == ["Recorded", "Enrolled"]


def test_a_batch_delivered_twice_changes_nothing(make_app: Callable[[], LedgerApp]) -> None:
    from eventsourcing.persistence import Tracking

    app = make_app()
    view = open_view(app)
    app.add_learner(CTX, "C1", "L1", given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    batch = next(entry_pages(app))
    assert view.apply(batch, Tracking(app.name, batch[-1].position)) == 1
    assert view.apply(batch, Tracking(app.name, batch[-1].position)) == 0
    (timeline,) = view.rows()
    assert len(timeline["facts"]) == 1


def test_the_event_log_is_read_a_page_at_a_time(make_app: Callable[[], LedgerApp]) -> None:
    app = make_app()
    for n in range(3):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
    pages = list(notifications(app, page=2))
    assert [len(page) for page in pages] == [2, 1]
    assert [e.reference for page in pages for _, e in page] == ["L0", "L1", "L2"]


class SeenProgress:
    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.updates: list[tuple[int, int]] = []

    def start(self, phase: str, total: int) -> None:
        self.phases.append((phase, total))

    def update(self, completed: int, rows: int) -> None:
        self.updates.append((completed, rows))


def test_a_rebuild_reports_its_progress_up_to_the_last_event(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    for n in range(3):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
    seen = SeenProgress()
    assert rebuild(app, open_view(app), seen) == 3
    last = last_position(app)
    learner_positions = [e.position for page in entry_pages(app) for e in page]
    assert seen.phases == [("Reports", last)]
    assert seen.updates[-2] == (learner_positions[-1], 3)
    assert seen.updates[-1] == (last, 3)  # the bar ends full: the positions after it were read
