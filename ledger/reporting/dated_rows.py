"""Kept rows for judging dates months back: each learner's rows as judged on a span of dates.

The current kept rows are exact for a judging date on or after a learner's `stable_from`
(its last dated fact). Before it, the timeline reads differently: as on a date D it holds the
facts dated by D (`projections.timeline.as_on`), which stays the same from the latest such
date up to the next one. So the rows judged from `as_on(timeline, D)` answer every date of
that span [date_from, date_to): a report on a date months back judges the learners not yet
stable then once, a page at a time, into the dated tables, and reads them with the current
rows, sorted by the database (memory stays flat). A later report on any date of the same
spans reads them as they are. A learner's dated rows go when its rows are judged again
(`report_rows.refresh_rows` replaces every kept row of a changed learner).

When few learners are not yet stable on the date (a report on a recent date), the report
judges them in memory as before (`KeptReport`): no writes, the current tables' index order.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Table, bindparam, exists, func, select, text

from aggregates.errors import ConcurrencyConflict
from ledger.reporting.report_queries import IN_MEMORY_LEARNERS, KeptReport
from ledger.reporting.report_rows import (
    CURRENT_TABLES,
    DATED_TABLES,
    REFRESH_CHUNK,
    judged_rows,
    learners_dated,
    learners_table,
    lock_rows,
)
from ledger.reporting.reports import TIMELINES_TABLE
from projections.policy import PolicyLike
from projections.timeline import Timeline, as_on

if TYPE_CHECKING:
    from ledger.app import LedgerApp



def judging_span(timeline: Timeline, on: date) -> tuple[int, int]:
    """The dates [from, to) (ordinals) over which the timeline reads as it does on `on`:
    from the latest date of a fact (or a withdrawal's notification) by `on` (0: none) to the
    first one after it. The timeline must have one after it (`stable_from` after `on`)."""
    cutoff = on.isoformat()
    before, after = "", None
    for fact in timeline["facts"]:
        if fact["event"] == "Recorded":
            continue
        dates = [fact["occurred_on"]]
        if fact["event"] == "Withdrawn":
            dates.append(fact["values"].get("notified_on"))
        for day in dates:
            if not day:
                continue
            if day <= cutoff:
                before = max(before, day)
            elif after is None or day < after:
                after = day
    assert after is not None, "a timeline stable on the date has no span before it"
    start = date.fromisoformat(before).toordinal() if before else 0
    return start, date.fromisoformat(after).toordinal()


def unstable_count(app: LedgerApp, on: date, centre: str | None = None) -> int:
    """How many learners (of the centre) read differently on the date than now."""
    query = select(func.count()).where(learners_table.c.stable_from > on.toordinal())
    if centre is not None:
        query = query.where(learners_table.c.centre == centre)
    with app.engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


def judge_dated(app: LedgerApp, book: PolicyLike, on: date, centre: str | None = None) -> int:
    """Judge into the dated tables every learner (of the centre) not yet stable on the date
    whose rows there do not cover it, a page of learners a transaction; returns how many."""
    judged = 0
    last = ""
    while True:
        with app.engine.begin() as connection:
            lock_rows(connection)
            page = _uncovered(connection, on, centre, last)
            if not page:
                return judged
            _write_dated(connection, book, on, page)
        judged += len(page)
        last = page[-1][0]["learner_id"]


def _uncovered(connection: Connection, on: date, centre: str | None,
               last: str) -> list[tuple[Timeline, int]]:
    """A page of the timelines not yet stable on the date and not covered by dated rows,
    after learner id `last`, each with its current rows' `recorded_from`. A timeline caught
    up since its rows were judged stops it."""
    learners, dated = learners_table, learners_dated
    day = on.toordinal()
    covered = exists().where(dated.c.learner_id == learners.c.learner_id,
                             dated.c.date_from <= day, dated.c.date_to > day)
    wanted = (select(learners.c.learner_id, learners.c.position, learners.c.recorded_from)
              .where(learners.c.stable_from > day, ~covered, learners.c.learner_id > last)
              .order_by(learners.c.learner_id).limit(REFRESH_CHUNK))
    if centre is not None:
        wanted = wanted.where(learners.c.centre == centre)
    kept = {learner_id: (position, recorded) for learner_id, position, recorded
            in connection.execute(wanted)}
    if not kept:
        return []
    found = connection.execute(
        text(f"SELECT learner_id, timeline, position FROM {TIMELINES_TABLE} "
             "WHERE learner_id IN :ids").bindparams(bindparam("ids", expanding=True)),
        {"ids": sorted(kept)}).all()
    timelines = []
    for learner_id, value, position in found:
        if position != kept[learner_id][0]:
            raise ConcurrencyConflict("the ledger changed while the report was read (another "
                                      "process caught the reports up); run it again")
        timelines.append((orjson.loads(value), kept[learner_id][1]))
    return sorted(timelines, key=lambda pair: pair[0]["learner_id"])


def _write_dated(connection: Connection, book: PolicyLike, on: date,
                 timelines: list[tuple[Timeline, int]]) -> None:
    """These learners' rows judged as on the date, with the span they answer for."""
    rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in DATED_TABLES}
    for timeline, current in timelines:
        start, end = judging_span(timeline, on)
        span = {"date_from": start, "date_to": end}
        learner, registrations, findings = judged_rows(as_on(timeline, on), book)
        for table, judged in zip(DATED_TABLES, ([learner], registrations, findings),
                                 strict=True):
            rows[table].extend({**row, **span, "recorded_from": current} for row in judged)
    for table, found in rows.items():
        if found:
            connection.execute(table.insert(), found)


def rows_judged_on(current: Table, dated: Table, on: date) -> str:
    """The rows of one kept table for the judging date, as SQL text for `KeptReport`'s
    queries: the current rows stable by then and the dated rows whose span holds it (a
    subquery with the current table's columns)."""
    names = ", ".join(column.name for column in current.columns)
    day = on.toordinal()
    return (f"(SELECT {names} FROM {current.name} WHERE stable_from <= {day} "
            f"UNION ALL SELECT {names} FROM {dated.name} WHERE date_from <= {day} "
            f"AND date_to > {day}) AS {current.name.removeprefix('ledger_report_')}")


class DatedRowsReport(KeptReport):
    """`KeptReport` read from the union of the current and the dated rows on the date, nothing
    judged in memory. The dated rows must cover the date already (`judge_dated`): reading
    takes no write lock (a web page must never wait for one)."""

    def __init__(self, app: LedgerApp, book: PolicyLike, on: date,
                 awarding_body: str | None = None, centre: str | None = None) -> None:
        _, self.registrations_from, self.findings_from = (
            rows_judged_on(current, dated, on)
            for current, dated in zip(CURRENT_TABLES, DATED_TABLES, strict=True))
        super().__init__(app, book, on, awarding_body, centre)

    @property
    def judged_here(self) -> list[Timeline]:  # type: ignore[override]
        return []


class DatedReport(DatedRowsReport):
    """`KeptReport` on a date many learners are not yet stable on: the dated rows judged
    first, then every question read from the union, nothing judged in memory."""

    def __init__(self, app: LedgerApp, book: PolicyLike, on: date,
                 awarding_body: str | None = None, centre: str | None = None) -> None:
        judge_dated(app, book, on, centre)
        super().__init__(app, book, on, awarding_body, centre)


def report_on(app: LedgerApp, book: PolicyLike, on: date, awarding_body: str | None = None,
              centre: str | None = None) -> KeptReport:
    """The kept rows' report on the date: dated rows when many learners are not yet stable
    on it, else the current rows with those few judged in memory."""
    if unstable_count(app, on, centre) > IN_MEMORY_LEARNERS:
        return DatedReport(app, book, on, awarding_body, centre)
    return KeptReport(app, book, on, awarding_body, centre)

