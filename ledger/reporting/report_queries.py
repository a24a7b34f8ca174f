"""The reports read from the kept rows: status and days late judged in the query, streamed.

A registration's status and days late on the judging date come from its kept deadline,
submission and leaving date in SQL (the same rule as `projections.late_registrations.
status_on`); a kept finding stands when its `due_after` is before the date. The learners whose
timeline does not read the same on the judging date (`stable_from` after it), and those the
caller gives timelines for (`override`: learner id to timeline, or None to leave the learner
out), are judged in Python from their timelines and merged in the report's order.

Every function returns an iterator of plain rows (the projections' dataclasses), in the
report's order, read from the database as they are consumed.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import ColumnElement, and_, case, func, literal, select, text

from aggregates.errors import ConcurrencyConflict
from ledger.reporting.report_rows import (
    findings_table,
    learners_table,
    registrations_table,
    rows_state,
)
from ledger.reporting.reports import TIMELINES_TABLE
from projections.late_registrations import (
    RegistrationRow,
    Unjudged,
    late_registrations,
)
from projections.maladministration import (
    Finding,
    finding_order,
    late_finding,
    maladministration,
    persistent_late,
    timeline_findings,
)
from projections.policy import PolicyLike
from projections.timeline import LearnerView, Timeline, as_on

if TYPE_CHECKING:
    from ledger.app import LedgerApp

CHUNK = 500  # learner ids a statement
STREAM_ROWS = 2_000  # rows fetched at a time from a PostgreSQL server-side cursor
LATE = ("late", "overdue")
Override = Mapping[str, Timeline | None]


def deadline_order(row: RegistrationRow) -> tuple[Any, ...]:
    """The late-registration report's order."""
    return (row.centre, row.awarding_body, row.deadline, row.learner, row.enrolment)


def learner_order(row: RegistrationRow) -> tuple[Any, ...]:
    """The findings' order of registrations: by learner."""
    return (row.centre, row.awarding_body, row.learner, row.enrolment)


def unjudged_order(item: Unjudged) -> tuple[str, str, str]:
    return (item.awarding_body, item.learner, item.enrolment)


class KeptReport:
    """One report's reading of the kept rows: judged on `on`, of one awarding body and one
    centre when given. The kept rows must be refreshed first (`report_rows.refresh_rows`).

    The tables read are attributes, so that a report as recorded by a past moment
    (`ledger.reporting.history_queries`) reads the same questions from the rows valid then."""

    learner_rows: Any = learners_table
    registration_rows: Any = registrations_table
    finding_rows: Any = findings_table

    def __init__(self, app: LedgerApp, book: PolicyLike, on: date,
                 awarding_body: str | None = None, centre: str | None = None,
                 override: Override | None = None) -> None:
        self.app, self.book, self.on = app, book, on
        self.body, self.centre = awarding_body, centre
        self.override: Override = override or {}

    # ----- where the rows stand, and the learners judged here ------------------------------

    def position(self) -> int:
        """The timelines' position the kept rows were judged at (the digest's position)."""
        with self.app.engine.connect() as connection:
            state = rows_state(connection)
        return 0 if state is None else state.position

    def recorded_position(self) -> int:
        """The last position among the learners (of the centre, when given) as this report
        reads them: the kept ones' timelines when judged, but for those of `override`, whose
        own timelines count instead (the digest's position of a report --as-at)."""
        table = self.learner_rows
        query = select(table.c.learner_id, table.c.position)
        if self.centre is not None:
            query = query.where(table.c.centre == self.centre)
        last = max((t["position"] for t in self.override.values()
                    if t is not None and (self.centre is None or t["centre"] == self.centre)),
                   default=0)
        with self.app.engine.connect() as connection:
            for learner_id, position in connection.execute(query):
                if position > last and learner_id not in self.override:
                    last = position
        return last

    @cached_property
    def judged_here(self) -> list[Timeline]:
        """The timelines judged in Python: the learners whose kept rows are not exact on the
        date (a fact dated after it), and those of `override` (with a timeline)."""
        query = text(f"SELECT t.learner_id, t.timeline, t.position, l.position "
                     f"FROM {TIMELINES_TABLE} t "
                     f"JOIN {learners_table.name} l ON l.learner_id = t.learner_id "
                     "WHERE l.stable_from > :on")
        found: dict[str, Timeline] = {}
        with self.app.engine.connect() as connection:
            for learner_id, value, now, judged in connection.execute(
                    query, {"on": self.on.toordinal()}):
                if learner_id in self.override:
                    continue
                if now != judged:  # caught up by another process since the rows were judged
                    raise ConcurrencyConflict("the ledger changed while the report was read "
                                              "(another process caught the reports up); run "
                                              "it again")
                found[learner_id] = orjson.loads(value)
        found.update((key, timeline) for key, timeline in self.override.items()
                     if timeline is not None)
        return [found[key] for key in sorted(found)
                if self.centre is None or found[key]["centre"] == self.centre]

    @cached_property
    def _judged_here_report(self) -> tuple[list[RegistrationRow], list[Unjudged]]:
        return late_registrations(self.judged_here, self.book, self.on, self.body,
                                  self.centre)

    @cached_property
    def _postgres(self) -> bool:
        return self.app.engine.dialect.name == "postgresql"

    # ----- late registrations -------------------------------------------------------------

    def registrations(self, statuses: Iterable[str] | None = None, by: str = "deadline",
                      limit: int | None = None) -> Iterator[RegistrationRow]:
        """The judged enrolments' rows in the report's order (`by` "deadline", or "learner"
        for the findings), of these statuses only when given, at most `limit` (0: all)."""
        wanted = None if statuses is None else tuple(statuses)
        order = deadline_order if by == "deadline" else learner_order
        here = [row for row in self._judged_here_report[0]
                if wanted is None or row.status in wanted]
        here.sort(key=order)
        merged = heapq.merge(self._kept_registrations(wanted, by), here, key=order)
        return itertools.islice(merged, limit) if limit else merged

    def status_counts(self) -> Counter[str]:
        """How many judged enrolments there are of each status."""
        status, _ = self._judged()
        table = self.registration_rows
        query = (select(status, func.count()).where(*self._conditions(table))
                 .where(table.c.deadline.is_not(None)).group_by(status))
        with self.app.engine.connect() as connection:
            counts = Counter({name: int(count) for name, count in connection.execute(query)})
            ids = sorted(self.override)
            for start in range(0, len(ids), CHUNK):  # the learners judged here instead
                counts.subtract({name: int(count) for name, count in connection.execute(
                    query.where(table.c.learner_id.in_(ids[start:start + CHUNK])))})
        counts.update(row.status for row in self._judged_here_report[0])
        return +counts

    def unjudged(self) -> list[Unjudged]:
        """The enrolments no late-registration rule judges, with why, in the report's order."""
        table = self.registration_rows
        query = (select(table.c.learner, table.c.enrolment, table.c.awarding_body,
                        table.c.programme_start, table.c.reason, table.c.centre,
                        table.c.learner_id)
                 .where(*self._conditions(table), table.c.reason.is_not(None)))
        with self.app.engine.connect() as connection:
            found = [Unjudged(learner, enrolment, body, date.fromordinal(start), reason, centre)
                     for learner, enrolment, body, start, reason, centre, learner_id
                     in connection.execute(query) if learner_id not in self.override]
        found.extend(self._judged_here_report[1])
        found.sort(key=unjudged_order)
        return found

    def widths(self) -> dict[str, int]:
        """The widest learner reference, enrolment and awarding body among the selected
        registrations (for a table's columns before its rows are read)."""
        table = self.registration_rows
        columns = ("learner", "enrolment", "awarding_body")
        query = select(*(func.max(func.length(table.c[name])) for name in columns)).where(
            *self._conditions(table))
        with self.app.engine.connect() as connection:
            found = connection.execute(query).one()
        widths = {name: int(value or 0) for name, value in zip(columns, found, strict=True)}
        for timeline in self.judged_here:
            view = LearnerView(timeline)
            widths["learner"] = max(widths["learner"], len(view.reference or ""))
            for enrolled in view.enrolments():
                widths["enrolment"] = max(widths["enrolment"], len(enrolled["enrolment"]))
                widths["awarding_body"] = max(widths["awarding_body"],
                                              len(enrolled["values"]["awarding_body"]))
        return widths

    def _conditions(self, table: Any) -> list[ColumnElement[bool]]:
        """The rows exact on the date, of the selected awarding body and centre."""
        conditions = [table.c.stable_from <= self.on.toordinal()]
        body_column = table.c.source_body if table is self.finding_rows else table.c.awarding_body
        if self.body is not None:
            conditions.append(body_column == self.body)
        if self.centre is not None:
            conditions.append(table.c.centre == self.centre)
        return conditions

    def _judged(self) -> tuple[ColumnElement[str], ColumnElement[int]]:
        """Status and days late on the date, as SQL over a registration row."""
        table = self.registration_rows
        on = literal(self.on.toordinal())
        deadline, submitted, left = table.c.deadline, table.c.submitted, table.c.left_on
        left_in_time = and_(left.is_not(None), left <= deadline)
        status = case(
            (submitted.is_not(None), case((submitted > deadline, "late"), else_="on-time")),
            (left_in_time, "on-time"),
            (on > deadline, "overdue"),
            (self._at_risk_limit >= deadline, "at-risk"),
            else_="on-time")
        judged_to = case((and_(left.is_not(None), left < on), left), else_=on)
        days_late = case(
            (submitted.is_not(None), case((submitted > deadline, submitted - deadline),
                                          else_=0)),
            (left_in_time, 0),
            (on > deadline, judged_to - deadline),
            else_=0)
        return status, days_late

    @cached_property
    def _at_risk_limit(self) -> ColumnElement[int]:
        """Per centre, the day `at_risk_working_days` working days after the date, as an
        ordinal: one figure per distinct limit, not per row."""
        with self.app.engine.connect() as connection:
            centres = [centre for (centre,) in connection.execute(
                select(self.learner_rows.c.centre).distinct())]
        by_limit: dict[int, list[str]] = {}
        for centre in centres:
            limit = self.book.calendar_for(centre).add_working_days(
                self.on, self.book.at_risk_working_days).toordinal()
            by_limit.setdefault(limit, []).append(centre)
        if not by_limit:
            return literal(0)
        whens = [(self.registration_rows.c.centre.in_(names), literal(limit))
                 for limit, names in by_limit.items()]
        return case(*whens, else_=literal(0))

    def _kept_registrations(self, wanted: tuple[str, ...] | None,
                            by: str) -> Iterator[RegistrationRow]:
        table = self.registration_rows
        status, days_late = self._judged()
        query = select(table.c.learner, table.c.enrolment, table.c.awarding_body,
                       table.c.programme_start, table.c.deadline, table.c.submitted,
                       status, days_late, table.c.rule, table.c.centre, table.c.rule_version,
                       table.c.clause, table.c.evidence, table.c.left_on,
                       table.c.learner_id).where(
            *self._conditions(table), table.c.deadline.is_not(None))
        if wanted is not None:
            query = query.where(status.in_(wanted))
        keys = (("centre", "awarding_body", "deadline", "learner", "enrolment")
                if by == "deadline" else ("centre", "awarding_body", "learner", "enrolment"))
        query = query.order_by(*(table.c[key] for key in keys))
        fromordinal = date.fromordinal
        override = self.override
        for row in self._stream(query):
            if override and row[14] in override:
                continue
            yield RegistrationRow(
                row[0], row[1], row[2], fromordinal(row[3]), fromordinal(row[4]),
                None if row[5] is None else fromordinal(row[5]), row[6], int(row[7]),
                row[8], row[9], row[10], row[11], orjson.loads(row[12]),
                None if row[13] is None else fromordinal(row[13]))

    # ----- maladministration --------------------------------------------------------------

    def findings(self) -> Iterator[Finding]:
        """Every finding standing on the date, in the report's order: the late registrations'
        (and persistent lateness per centre and AO) and the kept checks' findings."""
        late = (late_finding(row, self.book, self.on)
                for row in self.registrations(LATE, by="learner"))
        return heapq.merge(late, self._persistent(), self._kept_findings(),
                           self._findings_here(), key=finding_order)

    def _persistent(self) -> list[Finding]:
        """Persistent lateness, one centre and AO at a time (the deadline order groups them)."""
        found: list[Finding] = []
        for _key, group in itertools.groupby(
                self.registrations(LATE), key=lambda row: (row.centre, row.awarding_body)):
            found.extend(persistent_late(list(group), self.book))
        return found

    def _findings_here(self) -> list[Finding]:
        found = []
        for timeline in self.judged_here:
            view = LearnerView(as_on(timeline, self.on))
            found.extend(item for _body, item in timeline_findings(view, self.book, self.body)
                         if item.stands_on(self.on))
        found.sort(key=finding_order)
        return found

    def _kept_findings(self) -> Iterator[Finding]:
        table = self.finding_rows
        on = self.on.toordinal()
        query = (select(table.c.rule, table.c.awarding_body, table.c.rule_version,
                        table.c.clause, table.c.severity, table.c.centre, table.c.learner,
                        table.c.enrolment, table.c.dates, table.c.evidence, table.c.message,
                        table.c.citation, table.c.learner_id)
                 .where(*self._conditions(table),
                        (table.c.due_after.is_(None)) | (table.c.due_after < on))
                 .order_by(table.c.centre, table.c.awarding_body, table.c.learner,
                           table.c.enrolment_key, table.c.rule, table.c.evidence_key,
                           table.c.seq))
        override = self.override
        for row in self._stream(query):
            if override and row[12] in override:
                continue
            yield Finding(row[0], row[1], row[2], row[3], row[4], row[5], row[6] or None,
                          row[7], _dates(row[8]), orjson.loads(row[9]), row[10],
                          citation=row[11])

    def _stream(self, query: Any) -> Iterator[Any]:
        """The query's rows as the database sends them (a server-side cursor on PostgreSQL:
        the driver would otherwise hold every row)."""
        with self.app.engine.connect() as connection:
            if self._postgres:
                connection = connection.execution_options(stream_results=True,
                                                          yield_per=STREAM_ROWS)
            yield from connection.execute(query)


def _dates(text: str) -> dict[str, date | None]:
    return {key: None if value is None else date.fromisoformat(value)
            for key, value in orjson.loads(text).items()}


class TimelinesReport:
    """`KeptReport`'s questions answered from timelines in memory (as recorded by a past
    moment, or for a login that may not write the kept rows): the projections' own code."""

    def __init__(self, timelines: list[Timeline], book: PolicyLike, on: date,
                 awarding_body: str | None = None, centre: str | None = None) -> None:
        self.timelines, self.book, self.on = timelines, book, on
        self.body, self.centre = awarding_body, centre
        self.rows, self._unjudged = late_registrations(timelines, book, on, awarding_body,
                                                       centre)

    def registrations(self, statuses: Iterable[str] | None = None, by: str = "deadline",
                      limit: int | None = None) -> Iterator[RegistrationRow]:
        wanted = None if statuses is None else tuple(statuses)
        rows = [row for row in self.rows if wanted is None or row.status in wanted]
        if by != "deadline":
            rows.sort(key=learner_order)
        return iter(rows[:limit] if limit else rows)

    def status_counts(self) -> Counter[str]:
        return Counter(row.status for row in self.rows)

    def unjudged(self) -> list[Unjudged]:
        return list(self._unjudged)

    def widths(self) -> dict[str, int]:
        return {name: max((len(getattr(row, name)) for row in [*self.rows, *self._unjudged]),
                          default=0)
                for name in ("learner", "enrolment", "awarding_body")}

    def findings(self) -> Iterator[Finding]:
        return iter(maladministration(self.timelines, self.book, self.on, self.body,
                                      self.centre))
