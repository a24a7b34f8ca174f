"""The reports read from the kept rows: status and days late judged in the query, streamed.

A registration's status and days late on the judging date come from its kept deadline,
submission and leaving date in SQL (the same rule as `projections.late_registrations.
status_on`); a kept finding stands when its `due_after` is before the date. The learners whose
timeline does not read the same on the judging date (`stable_from` after it), and those the
caller gives timelines for (`override`: learner id to timeline, or None to leave the learner
out), are judged in Python from their timelines and merged in the report's order.

Every query of a report reads one snapshot (`Snapshot`: one read transaction, REPEATABLE READ
on PostgreSQL), so its counts, rows, findings and not-judged list agree with each other. The
SQL goes straight to the DB-API driver (sqlite3, psycopg2): rows come back as tuples, and a
report whose kept rows are current (`current_report`) is read without SQLAlchemy, the
recorder or the eventsourcing application ever loading.

Every function returns an iterator of plain rows (the projections' dataclasses, or the kept
tuples of `registration_records`), in the report's order, read as they are consumed.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from aggregates.errors import ConcurrencyConflict, LedgerError
from ledger.integrity.chain import EMPTY, Digest
from ledger.reporting.fingerprint import rulebook_fingerprint
from projections.late_registrations import (
    RegistrationRow,
    Unjudged,
    late_registrations,
)
from projections.maladministration import (
    Finding,
    finding,
    finding_order,
    late_finding,
    maladministration,
    timeline_findings,
)
from projections.policy import PolicyLike, add_months, describe_days
from projections.timeline import LearnerView, Timeline, as_on

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ledger.app import LedgerApp

CHUNK = 500  # learner ids a statement
EVIDENCE_DIGITS = 12  # `report_rows.EVIDENCE_DIGITS` (a test checks)
STREAM_ROWS = 2_000  # rows fetched at a time (a server-side cursor on PostgreSQL)
LATE = ("late", "overdue")
Override = Mapping[str, Timeline | None]

# the tables read here (`report_rows`, `reports`, `storage.persistence` define them; a test
# checks the names agree), named so that the light path imports none of those modules
# learners not yet stable on a report's date judged in memory at most; beyond, a report
# keeps dated rows for the date (`ledger.reporting.dated_rows`)
IN_MEMORY_LEARNERS = 2_000
LEARNERS = "ledger_report_learners"
REGISTRATIONS = "ledger_report_registrations"
FINDINGS = "ledger_report_findings"
ROWS_STATE = "ledger_report_rows_state"
ROWS_STATE_NAME = "rows"
TIMELINES = "ledger_report_timelines"
TRACKING = "ledger_reports_tracking"
APPLICATION = "Ledger"
EVENTS = "ledger_events"
EVENT_HASHES = "ledger_event_hashes"

# a kept registration as `registration_records` yields it: the report's order first
RECORD_COLUMNS = ("centre", "awarding_body", "deadline", "learner", "enrolment",
                  "programme_start", "submitted", "status", "days_late", "rule",
                  "rule_version", "clause", "evidence", "left_on", "learner_id")
Record = tuple[Any, ...]
(CENTRE, BODY, DEADLINE, LEARNER, ENROLMENT, START, SUBMITTED, STATUS, DAYS, RULE, VERSION,
 CLAUSE, EVIDENCE, LEFT, LEARNER_ID) = range(len(RECORD_COLUMNS))

# a finding as `finding_records` yields it: its sort key first (`finding_key`: the learner and
# enrolment '' for none, the evidence as fixed-width text), the dates and evidence as the
# JSON text `report_rows.finding_row` stores, the learner id last ('' when judged here)
FINDING_RECORD_COLUMNS = ("centre", "awarding_body", "learner", "enrolment_key", "rule",
                          "evidence_key", "rule_version", "clause", "severity", "enrolment",
                          "dates", "evidence", "message", "citation", "learner_id")
(F_CENTRE, F_BODY, F_LEARNER, F_ENROLMENT_KEY, F_RULE, F_EVIDENCE_KEY, F_VERSION, F_CLAUSE,
 F_SEVERITY, F_ENROLMENT, F_DATES, F_EVIDENCE, F_MESSAGE, F_CITATION,
 F_LEARNER_ID) = range(len(FINDING_RECORD_COLUMNS))
FINDING_KEY = itemgetter(slice(0, 6))  # a finding record's sort key


def deadline_order(row: RegistrationRow) -> tuple[Any, ...]:
    """The late-registration report's order."""
    return (row.centre, row.awarding_body, row.deadline, row.learner, row.enrolment)


def learner_order(row: RegistrationRow) -> tuple[Any, ...]:
    """The findings' order of registrations: by learner."""
    return (row.centre, row.awarding_body, row.learner, row.enrolment)


def record_deadline_order(record: Record) -> tuple[Any, ...]:
    return record[:5]


def record_learner_order(record: Record) -> tuple[Any, ...]:
    return (record[CENTRE], record[BODY], record[LEARNER], record[ENROLMENT])


def unjudged_order(item: Unjudged) -> tuple[str, str, str, str]:
    """The not-judged list's order: centre, awarding body, learner, enrolment (two centres'
    learners may share a reference)."""
    return (item.centre, item.awarding_body, item.learner, item.enrolment)


class Snapshot:
    """One read transaction on a DB-API connection (sqlite3 or psycopg2): every query sees
    the database as it was at the first one. Statements are written with `?` placeholders."""

    def __init__(self, connection: Any, postgres: bool,
                 release: Callable[[], None] | None = None) -> None:
        self.connection, self.postgres = connection, postgres
        self._release = release or connection.close
        self._cursors = itertools.count()
        if postgres:  # the transaction psycopg2 opens at the first statement
            self.connection.cursor().execute(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            self.connection.cursor().execute("BEGIN")

    @classmethod
    def of_engine(cls, engine: Engine) -> Snapshot:
        """A snapshot on a connection of an SQLAlchemy engine's pool (the application's)."""
        raw = engine.raw_connection()
        return cls(raw, engine.dialect.name == "postgresql", raw.close)

    @classmethod
    def of_url(cls, url: str) -> Snapshot:
        """A snapshot on a plain DB-API connection (no SQLAlchemy)."""
        from ledger.storage.dbapi import connect, sqlite_file

        return cls(connect(url, autocommit=False), sqlite_file(url) is None)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[Record]:
        cursor = self.connection.cursor()
        cursor.execute(self._sql(sql), list(params))
        found = cursor.fetchall()
        cursor.close()
        return found  # type: ignore[no-any-return]

    def first(self, sql: str, params: Iterable[Any] = ()) -> Record | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[Record]:
        """The query's rows as the database sends them, a block at a time (a server-side
        cursor on PostgreSQL: the driver would otherwise hold every row)."""
        if self.postgres:
            cursor = self.connection.cursor(name=f"kept_rows_{next(self._cursors)}")
            cursor.itersize = STREAM_ROWS
        else:
            cursor = self.connection.cursor()
        try:
            cursor.execute(self._sql(sql), list(params))
            while block := cursor.fetchmany(STREAM_ROWS):
                yield from block
        finally:
            cursor.close()

    def close(self) -> None:
        """End the read transaction and give the connection back."""
        try:
            self.connection.rollback()
        finally:
            self._release()


def current_report(url: str, book: PolicyLike, on: date, awarding_body: str | None = None,
                   centre: str | None = None) -> KeptReport | None:
    """The report over the kept rows when they are current (judged by this rule book at the
    ledger's last position, the timelines caught up to it), read in one snapshot on a plain
    DB-API connection; None when they are not, or cannot be read so (the caller then catches
    up and judges through the application). The caller closes the report."""
    try:
        snapshot = Snapshot.of_url(url)
    except (LedgerError, ImportError):
        return None
    except Exception as error:  # the driver's: a server or file that cannot be reached
        if _driver_error(error):
            return None
        raise
    try:
        current = _rows_are_current(snapshot, rulebook_fingerprint(book))
    except Exception as error:
        snapshot.close()
        if _driver_error(error):  # a missing table (an older ledger), a refused login
            return None
        raise
    if not current or _unstable_on(snapshot, on, centre) > IN_MEMORY_LEARNERS:
        snapshot.close()  # a date months back: the caller keeps dated rows for it
        return None
    return KeptReport(snapshot, book, on, awarding_body, centre)


def _unstable_on(snapshot: Snapshot, on: date, centre: str | None) -> int:
    """How many learners (of the centre) read differently on the date than now: judged in
    memory by a report on it (`dated_rows.unstable_count` on the application's engine)."""
    sql, params = f"SELECT count(*) FROM {LEARNERS} WHERE stable_from > ?", [on.toordinal()]
    if centre is not None:
        sql, params = sql + " AND centre = ?", [*params, centre]
    found = snapshot.first(sql, params)
    return int(found[0]) if found else 0


def _rows_are_current(snapshot: Snapshot, fingerprint: str) -> bool:
    """Whether the kept rows were judged by this rule book from timelines caught up with
    every learner event (the reference index's events after them change no report)."""
    state = snapshot.first(f"SELECT position, fingerprint FROM {ROWS_STATE} WHERE name = ?",
                           [ROWS_STATE_NAME])
    tracked = snapshot.first(
        f"SELECT notification_id FROM {TRACKING} WHERE application_name = ?", [APPLICATION])
    if state is None or tracked is None or tracked[0] is None:
        return False
    if state[1] != fingerprint or int(state[0]) != int(tracked[0]):
        return False
    topics = learner_topics()
    later = snapshot.first(f"SELECT count(*) FROM {EVENTS} WHERE id > ? AND topic IN "
                           f"({', '.join('?' * len(topics))})", [int(tracked[0]), *topics])
    return later is not None and int(later[0]) == 0


# the learner events' topics (`reports.LEARNER_TOPICS`, which the timelines fold: a test
# checks they agree), written out so that the light path does not import the aggregate
# (`aggregates.learner` and the library's domain module: a tenth of a second of CPU)
LEARNER_TOPICS = tuple(f"aggregates.learner:Learner.{name}" for name in (
    "DetailsAmended", "Recorded", "Enrolled", "UlnRecorded", "LrsResultRecorded",
    "IdVerified", "RegistrationSubmitted", "RegistrationConfirmed", "RegistrationRejected",
    "AssessmentStarted", "Withdrawn", "WithdrawalNotified", "IqaSignedOff",
    "LearningCompleted", "Achieved", "ClaimSubmitted", "CertificateReceived",
    "CertificateIssued", "CertificateCollected", "Retracted", "Erased", "RegistrationChecked",
    "UnitsCompleted", "EqaSamplingRequired", "EqaSampled", "PersonalDataViewed", "Created"))


def learner_topics() -> tuple[str, ...]:
    """The learner events' topics (`reports.LEARNER_TOPICS`, which the timelines fold)."""
    return LEARNER_TOPICS


def _driver_error(error: Exception) -> bool:
    """An error of sqlite3's or psycopg2's (checked without importing the one not loaded)."""
    import sys

    for module in ("sqlite3", "psycopg2"):
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, loaded.Error):
            return True
    return False


class KeptReport:
    """One report's reading of the kept rows: judged on `on`, of one awarding body and one
    centre when given. The kept rows must be refreshed first (`report_rows.refresh_rows`).

    `source`: the application (each question then reads its own snapshot, unless asked
    inside `with report.snapshot():`, which reads them all in one), or a `Snapshot` the
    report reads every question from and closes with `close`.

    The tables read are attributes, so that a report as recorded by a past moment
    (`ledger.reporting.history_queries`) or on a date months back
    (`ledger.reporting.dated_rows`) asks the same questions of the rows valid then (a
    subquery in SQL text, with the table's columns)."""

    learners_from = LEARNERS
    registrations_from = REGISTRATIONS
    findings_from = FINDINGS

    def __init__(self, source: LedgerApp | Snapshot, book: PolicyLike, on: date,
                 awarding_body: str | None = None, centre: str | None = None,
                 override: Override | None = None) -> None:
        self.book, self.on = book, on
        self.body, self.centre = awarding_body, centre
        self.override: Override = override or {}
        if isinstance(source, Snapshot):
            self._engine: Engine | None = None
            self._open: Snapshot | None = source
        else:
            self._engine, self._open = source.engine, None

    # ----- the snapshot ---------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """The report's snapshot: the open one, else one for the duration of the block."""
        if self._open is not None:
            yield self._open
            return
        assert self._engine is not None
        self._open = Snapshot.of_engine(self._engine)
        try:
            yield self._open
        finally:
            opened, self._open = self._open, None
            opened.close()

    def close(self) -> None:
        """Close the snapshot the report was given."""
        if self._open is not None and self._engine is None:
            opened, self._open = self._open, None
            opened.close()

    @contextmanager
    def _reading(self) -> Iterator[Snapshot]:
        """The open snapshot, else one of this question's own."""
        if self._open is not None:
            yield self._open
            return
        assert self._engine is not None
        own = Snapshot.of_engine(self._engine)
        try:
            yield own
        finally:
            own.close()

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[Record]:
        with self._reading() as snapshot:
            return snapshot.rows(sql, params)

    def _stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[Record]:
        with self._reading() as snapshot:
            yield from snapshot.stream(sql, params)

    # ----- where the rows stand, and the learners judged here ------------------------------

    def position(self) -> int:
        """The timelines' position the kept rows were judged at (the digest's position)."""
        found = self._rows(f"SELECT position FROM {ROWS_STATE} WHERE name = ?",
                           [ROWS_STATE_NAME])
        return int(found[0][0]) if found else 0

    def digest(self, position: int | None = None) -> Digest:
        """The ledger's digest at a position (default: the kept rows'), from the chain entry
        at or before it (the chain is appended in position order, as its recorder reads its
        head: by position, which its primary key finds at once, not by seq, which it scans)."""
        position = self.position() if position is None else position
        found = self._rows(f"SELECT position, hash, seq FROM {EVENT_HASHES} WHERE position <= ? "
                           "ORDER BY position DESC LIMIT 1", [position])
        return EMPTY if not found else Digest(int(found[0][0]), found[0][1], int(found[0][2]))

    def recorded_position(self) -> int:
        """The last position among the learners (of the centre, when given) as this report
        reads them: the kept ones' timelines when judged, but for those of `override`, whose
        own timelines count instead (the digest's position of a report --as-at)."""
        sql, params = f"SELECT learner_id, position FROM {self.learners_from}", []
        if self.centre is not None:
            sql, params = sql + " WHERE centre = ?", [self.centre]
        last = max((t["position"] for t in self.override.values()
                    if t is not None and (self.centre is None or t["centre"] == self.centre)),
                   default=0)
        for learner_id, position in self._stream(sql, params):
            if position > last and learner_id not in self.override:
                last = position
        return int(last)

    @cached_property
    def judged_here(self) -> list[Timeline]:
        """The timelines judged in Python: the learners whose kept rows are not exact on the
        date (a fact dated after it), and those of `override` (with a timeline)."""
        query = (f"SELECT t.learner_id, t.timeline, t.position, l.position FROM {TIMELINES} t "
                 f"JOIN {self.learners_from} l ON l.learner_id = t.learner_id "
                 "WHERE l.stable_from > ?")
        found: dict[str, Timeline] = {}
        for learner_id, value, now, judged in self._stream(query, [self.on.toordinal()]):
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
        kept = map(registration_row, self._kept_records(wanted, by))
        merged = heapq.merge(kept, here, key=order)
        return itertools.islice(merged, limit) if limit else merged

    def registration_records(self, statuses: Iterable[str] | None = None,
                             limit: int | None = None) -> Iterator[Record]:
        """`registrations` in the deadline order as plain tuples (`RECORD_COLUMNS`: dates
        as ordinals, the evidence as its JSON text), for output that needs no row objects."""
        wanted = None if statuses is None else tuple(statuses)
        here = sorted((row_record(row) for row in self._judged_here_report[0]
                       if wanted is None or row.status in wanted), key=record_deadline_order)
        merged = merged_in(self._kept_records(wanted, "deadline"), here)
        return itertools.islice(merged, limit) if limit else merged

    def status_counts(self) -> Counter[str]:
        """How many judged enrolments there are of each status."""
        counts: Counter[str] = Counter()
        for (_, status), count in self.body_status_counts().items():
            counts[status] += count
        return counts

    def body_status_counts(self) -> Counter[tuple[str, str]]:
        """How many judged enrolments there are of each (awarding body, status)."""
        status, _ = self._judged()
        where, params = self._conditions()
        query = (f"SELECT awarding_body, {status}, count(*) FROM {self.registrations_from} "
                 f"WHERE {where} AND deadline IS NOT NULL")
        counts = Counter({(body, name): int(count) for body, name, count
                          in self._rows(query + " GROUP BY 1, 2", params)})
        ids = sorted(self.override)
        for start in range(0, len(ids), CHUNK):  # the learners judged here instead
            chunk = ids[start:start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            counts.subtract({(body, name): int(count) for body, name, count in self._rows(
                f"{query} AND learner_id IN ({marks}) GROUP BY 1, 2", [*params, *chunk])})
        counts.update((row.awarding_body, row.status) for row in self._judged_here_report[0])
        return +counts

    def unjudged(self) -> list[Unjudged]:
        """The enrolments no late-registration rule judges, with why, in the report's order."""
        where, params = self._conditions()
        query = (f"SELECT learner, enrolment, awarding_body, programme_start, reason, centre, "
                 f"learner_id FROM {self.registrations_from} WHERE {where} AND reason IS NOT NULL")
        found = [Unjudged(learner, enrolment, body, date.fromordinal(start), reason, centre)
                 for learner, enrolment, body, start, reason, centre, learner_id
                 in self._rows(query, params) if learner_id not in self.override]
        found.extend(self._judged_here_report[1])
        found.sort(key=unjudged_order)
        return found

    def widths(self) -> dict[str, int]:
        """The widest learner reference, enrolment and awarding body among the selected
        registrations (for a table's columns before its rows are read)."""
        columns = ("learner", "enrolment", "awarding_body")
        where, params = self._conditions()
        found = self._rows(f"SELECT {', '.join(f'max(length({c}))' for c in columns)} "
                           f"FROM {self.registrations_from} WHERE {where}", params)
        widths = {name: int(value or 0) for name, value in zip(columns, found[0], strict=True)}
        for timeline in self.judged_here:
            view = LearnerView(timeline)
            widths["learner"] = max(widths["learner"], len(view.reference or ""))
            for enrolled in view.enrolments():
                widths["enrolment"] = max(widths["enrolment"], len(enrolled["enrolment"]))
                widths["awarding_body"] = max(widths["awarding_body"],
                                              len(enrolled["values"]["awarding_body"]))
        return widths

    def _conditions(self, findings: bool = False) -> tuple[str, list[Any]]:
        """The rows exact on the date, of the selected awarding body and centre: SQL and its
        parameters."""
        where, params = ["stable_from <= ?"], [self.on.toordinal()]
        if self.body is not None:
            where.append(("source_body" if findings else "awarding_body") + " = ?")
            params.append(self.body)
        if self.centre is not None:
            where.append("centre = ?")
            params.append(self.centre)
        return " AND ".join(where), params

    def _judged(self) -> tuple[str, str]:
        """Status and days late on the date, as SQL over a registration row (the date and
        the at-risk limits written in: whole numbers and quoted centre numbers)."""
        on = self.on.toordinal()
        left_in_time = "left_on IS NOT NULL AND left_on <= deadline"
        status = (
            "CASE WHEN submitted IS NOT NULL THEN "
            "(CASE WHEN submitted > deadline THEN 'late' ELSE 'on-time' END) "
            f"WHEN {left_in_time} THEN 'on-time' "
            f"WHEN {on} > deadline THEN 'overdue' "
            f"WHEN {self._at_risk_limit} >= deadline THEN 'at-risk' "
            "ELSE 'on-time' END")
        days_late = (
            "CASE WHEN submitted IS NOT NULL THEN "
            "(CASE WHEN submitted > deadline THEN submitted - deadline ELSE 0 END) "
            f"WHEN {left_in_time} THEN 0 "
            f"WHEN {on} > deadline THEN "
            f"(CASE WHEN left_on IS NOT NULL AND left_on < {on} THEN left_on ELSE {on} END) "
            "- deadline ELSE 0 END")
        return status, days_late

    @cached_property
    def _at_risk_limit(self) -> str:
        """Per centre, the day `at_risk_working_days` working days after the date, as an
        ordinal: one figure per distinct limit, not per row (SQL)."""
        centres = [centre for (centre,) in self._rows(
            f"SELECT DISTINCT centre FROM {self.registrations_from}")]
        by_limit: dict[int, list[str]] = {}
        for centre in centres:
            limit = self.book.calendar_for(centre).add_working_days(
                self.on, self.book.at_risk_working_days).toordinal()
            by_limit.setdefault(limit, []).append(centre)
        if not by_limit:
            return "0"
        if len(by_limit) == 1:
            return str(next(iter(by_limit)))
        whens = " ".join(f"WHEN centre IN ({', '.join(map(_quoted, names))}) THEN {limit}"
                         for limit, names in by_limit.items())
        return f"(CASE {whens} ELSE 0 END)"

    def _kept_records(self, wanted: tuple[str, ...] | None, by: str) -> Iterator[Record]:
        query, params = self._kept_query(wanted, by)
        override = self.override
        if not override:
            yield from self._stream(query, params)
            return
        for record in self._stream(query, params):
            if record[LEARNER_ID] not in override:
                yield record

    def _kept_query(self, wanted: tuple[str, ...] | None, by: str) -> tuple[str, list[Any]]:
        """The kept registrations' query in the deadline or the learner order (read from
        the index of that order alone: `report_rows.registrations_table`), and its
        parameters."""
        status, days_late = self._judged()
        where, params = self._conditions()
        keys = (("centre", "awarding_body", "deadline", "learner", "enrolment")
                if by == "deadline" else ("centre", "awarding_body", "learner", "enrolment"))
        query = (f"SELECT centre, awarding_body, deadline, learner, enrolment, programme_start, "
                 f"submitted, {status}, {days_late}, rule, rule_version, clause, evidence, "
                 f"left_on, learner_id FROM {self.registrations_from} WHERE {where} "
                 "AND deadline IS NOT NULL")
        if wanted is not None:
            query += f" AND {status} IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        query += f" ORDER BY {', '.join(keys)}"
        return query, params

    # ----- maladministration --------------------------------------------------------------

    def findings(self) -> Iterator[Finding]:
        """Every finding standing on the date, in the report's order: the late registrations'
        (and persistent lateness per centre and AO) and the kept checks' findings."""
        late = (late_finding(row, self.book, self.on)
                for row in self.registrations(LATE, by="learner"))
        return heapq.merge(late, self._persistent(), self._kept_findings(),
                           self._findings_here(), key=finding_order)

    def finding_rows(self) -> Iterator[dict[str, Any]]:
        """`findings` as the rows' dicts (`finding_row`: dates as ISO text)."""
        return finding_record_rows(self.finding_records())

    def finding_records(self) -> Iterator[Record]:
        """`findings` as plain tuples (`FINDING_RECORD_COLUMNS`: the sort key first, the
        dates and evidence as their JSON text), the kept ones straight from the cursor, the
        late registrations' made from their kept tuples: no `Finding` nor dict per row."""
        judged = heapq.merge(self._late_finding_records(),
                             map(finding_record, self._persistent()),
                             map(finding_record, self._findings_here()), key=FINDING_KEY)
        return merged_findings(self._kept_finding_records(), judged)

    def _kept_finding_records(self) -> Iterator[Record]:
        where, params = self._conditions(findings=True)
        query = (f"SELECT {', '.join(FINDING_RECORD_COLUMNS)} FROM {self.findings_from} "
                 f"WHERE {where} AND (due_after IS NULL OR due_after < ?) "
                 "ORDER BY centre, awarding_body, learner, enrolment_key, rule, evidence_key, "
                 "seq")
        params.append(self.on.toordinal())
        override = self.override
        if not override:
            yield from self._stream(query, params)
            return
        for record in self._stream(query, params):
            if record[F_LEARNER_ID] not in override:
                yield record

    def _late_records_by_learner(self) -> Iterator[Record]:
        """The late and overdue registrations' tuples in the findings' order (by learner)."""
        here = sorted((row_record(row) for row in self._judged_here_report[0]
                       if row.status in LATE), key=record_learner_order)
        kept = self._kept_records(LATE, "learner")
        return heapq.merge(kept, here, key=record_learner_order) if here else kept

    def _late_finding_records(self) -> Iterator[Record]:
        """`late_finding` of each late or overdue registration, as a finding's tuple made
        from the registration's (the same text: a test checks it against `late_finding`)."""
        book, on = self.book, self.on
        by_date, on_day = f"not submitted by {on.isoformat()}", on.toordinal()
        days = DayIso()
        rules: dict[tuple[str, int], Any] = {}
        loads = orjson.loads
        for r in self._late_records_by_learner():
            body, start = r[BODY], r[START]
            rule = rules.get((body, start))
            if rule is None:
                in_force = book.rules_in_force(body, date.fromordinal(start))
                assert in_force is not None
                rule = rules[body, start] = in_force["late-registration"]
            submitted, left, deadline = r[SUBMITTED], r[LEFT], days[r[DEADLINE]]
            when = (f"submitted on {days[submitted]}" if submitted is not None
                    else f"not submitted before the learner left on {days[left]}"
                    if left is not None and left < on_day else by_date)
            evidence_text = r[EVIDENCE]
            evidence = loads(evidence_text)
            unique = sorted(set(evidence))
            if unique != evidence:
                evidence_text = json.dumps(unique)
            dates = (f'{{"programme_start": "{days[start]}", "deadline": "{deadline}", '
                     '"submitted": ' + ("null}" if submitted is None
                                        else f'"{days[submitted]}"}}'))
            learner, enrolment = r[LEARNER], r[ENROLMENT]
            yield (r[CENTRE], rule.awarding_body, learner or "", enrolment or "", rule.id,
                   "".join(str(position).zfill(EVIDENCE_DIGITS) for position in unique),
                   rule.version, rule.clause, rule.severity, enrolment, dates, evidence_text,
                   f"registration {r[STATUS]}: {when}, "
                   f"{describe_days(int(r[DAYS]), 'calendar')} after the deadline {deadline} "
                   f"({r[RULE].rsplit(': ', 1)[-1]} from the start)",
                   rule.reference, r[LEARNER_ID])

    def severity_counts(self) -> Counter[str]:
        """How many findings `findings` gives of each severity, counted in SQL where the
        findings are kept (the late registrations' by their rule's severity), without
        making them; with `override`, counted from the findings themselves."""
        if self.override:
            return Counter(found.severity for found in self.findings())
        where, params = self._conditions(findings=True)
        counts: Counter[str] = Counter({severity: int(count) for severity, count in self._rows(
            f"SELECT severity, count(*) FROM {self.findings_from} WHERE {where} "
            "AND (due_after IS NULL OR due_after < ?) GROUP BY severity",
            [*params, self.on.toordinal()])})
        status, _ = self._judged()
        where, params = self._conditions()
        late = self._rows(
            f"SELECT awarding_body, programme_start, count(*) FROM {self.registrations_from} "
            f"WHERE {where} AND deadline IS NOT NULL AND {status} IN (?, ?) "
            "GROUP BY awarding_body, programme_start", [*params, *LATE])
        here = [(row.awarding_body, row.programme_start.toordinal(), 1)
                for row in self._judged_here_report[0] if row.status in LATE]
        for body, start, count in [*late, *here]:
            rules = self.book.rules_in_force(body, date.fromordinal(start))
            assert rules is not None
            counts[rules["late-registration"].severity] += int(count)
        counts.update(found.severity for found in self._persistent())
        counts.update(found.severity for found in self._findings_here())
        return +counts

    def _persistent(self) -> list[Finding]:
        """Persistent lateness, one centre and AO at a time (the deadline order groups them):
        `persistent_late` over the late rows' tuples, each group read once and not held
        beyond the first window that reaches the threshold (a test checks it against
        `persistent_late`)."""
        found: list[Finding] = []
        book = self.book
        fromordinal = date.fromordinal
        for (centre, _body), group in itertools.groupby(
                self.registration_records(LATE), key=itemgetter(CENTRE, BODY)):
            seen: list[tuple[date, Record]] = []
            hit: tuple[Any, list[tuple[date, Record]], date] | None = None
            total = 0
            for record in group:
                total += 1
                if hit is not None:
                    continue
                deadline = fromordinal(record[DEADLINE])
                seen.append((deadline, record))
                rules = book.rules_in_force(record[BODY], fromordinal(record[START]))
                if rules is None or "persistent-late-registration" not in rules:
                    continue
                rule = rules["persistent-late-registration"]
                count, months = rule.params["count"], rule.params["window_months"]
                window = [item for item in seen if add_months(item[0], months) > deadline]
                if len(window) >= count:
                    hit = (rule, window, deadline)
            if hit is None:
                continue
            rule, window, last = hit
            count, months = rule.params["count"], rule.params["window_months"]
            evidence = [p for _day, record in window for p in orjson.loads(record[EVIDENCE])]
            found.append(finding(
                rule, centre, None, None, {"from": window[0][0], "to": last}, evidence,
                f"{len(window)} late registrations with deadlines from "
                f"{window[0][0].isoformat()} to {last.isoformat()} "
                f"(threshold {count} in {months} months; {total} late in all)"))
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
        where, params = self._conditions(findings=True)
        query = (f"SELECT rule, awarding_body, rule_version, clause, severity, centre, learner, "
                 "enrolment, dates, evidence, message, citation, learner_id "
                 f"FROM {self.findings_from} "
                 f"WHERE {where} AND (due_after IS NULL OR due_after < ?) "
                 "ORDER BY centre, awarding_body, learner, enrolment_key, rule, evidence_key, "
                 "seq")
        params.append(self.on.toordinal())
        override = self.override
        loads, days = orjson.loads, IsoDays()
        for row in self._stream(query, params):
            if override and row[12] in override:
                continue
            yield Finding(row[0], row[1], row[2], row[3], row[4], row[5], row[6] or None,
                          row[7], {key: days[value] for key, value in loads(row[8]).items()},
                          loads(row[9]), row[10], citation=row[11])


def merged_in(kept: Iterator[Record], few: list[Record]) -> Iterator[Record]:
    """`heapq.merge(kept, few, key=record_deadline_order)` for a short sorted `few`: a
    record of `few` goes before the first kept one with a greater key (equal keys: the kept
    one first, as heapq.merge keeps its inputs' order), with one comparison per kept row."""
    if not few:
        yield from kept
        return
    index, count = 0, len(few)
    following = few[0][:5]
    for record in kept:
        key = record[:5]
        while following < key:
            yield few[index]
            index += 1
            if index == count:
                yield record
                yield from kept
                return
            following = few[index][:5]
        yield record
    yield from few[index:]


def merged_findings(kept: Iterator[Record], judged: Iterator[Record]) -> Iterator[Record]:
    """`heapq.merge(kept, judged, key=FINDING_KEY)` with one comparison per kept row (equal
    keys: the kept one first, as heapq.merge keeps its inputs' order)."""
    following = next(judged, None)
    if following is None:
        yield from kept
        return
    following_key = following[:6]
    for record in kept:
        key = record[:6]
        while following_key < key:
            yield following
            following = next(judged, None)
            if following is None:
                yield record
                yield from kept
                return
            following_key = following[:6]
        yield record
    yield following
    yield from judged


def finding_record(found: Finding) -> Record:
    """A finding judged in Python as a finding record (`FINDING_RECORD_COLUMNS`)."""
    return (*finding_key(found), found.rule_version, found.clause, found.severity, found.enrolment,
            json.dumps({key: value.isoformat() if value else None
                        for key, value in found.dates.items()}),
            json.dumps(found.evidence), found.message, found.citation, "")


DATES_KEPT = 100_000  # distinct dates texts parsed once while a report streams


def finding_record_rows(records: Iterable[Record]) -> Iterator[dict[str, Any]]:
    """`finding_record_row` of each record, each distinct dates text parsed once (findings
    share few; the rows share the parsed dict, which nothing changes)."""
    loads = orjson.loads
    parsed: dict[str, dict[str, Any]] = {}
    for r in records:
        dates = parsed.get(r[F_DATES])
        if dates is None:
            dates = loads(r[F_DATES])
            if len(parsed) < DATES_KEPT:
                parsed[r[F_DATES]] = dates
        yield {"rule": r[F_RULE], "awarding_body": r[F_BODY], "rule_version": r[F_VERSION],
               "clause": r[F_CLAUSE], "severity": r[F_SEVERITY], "centre": r[F_CENTRE],
               "learner": r[F_LEARNER] or None, "enrolment": r[F_ENROLMENT], "dates": dates,
               "evidence": loads(r[F_EVIDENCE]), "message": r[F_MESSAGE],
               "citation": r[F_CITATION]}


def finding_record_row(record: Record) -> dict[str, Any]:
    """A finding record as the report's row (`finding_row`'s dict)."""
    loads = orjson.loads
    return {"rule": record[F_RULE], "awarding_body": record[F_BODY],
            "rule_version": record[F_VERSION], "clause": record[F_CLAUSE],
            "severity": record[F_SEVERITY], "centre": record[F_CENTRE],
            "learner": record[F_LEARNER] or None, "enrolment": record[F_ENROLMENT],
            "dates": loads(record[F_DATES]), "evidence": loads(record[F_EVIDENCE]),
            "message": record[F_MESSAGE], "citation": record[F_CITATION]}


def registration_row(record: Record) -> RegistrationRow:
    """A kept registration tuple as the report's row."""
    fromordinal = date.fromordinal
    return RegistrationRow(
        record[LEARNER], record[ENROLMENT], record[BODY], fromordinal(record[START]),
        fromordinal(record[DEADLINE]),
        None if record[SUBMITTED] is None else fromordinal(record[SUBMITTED]),
        record[STATUS], int(record[DAYS]), record[RULE], record[CENTRE], record[VERSION],
        record[CLAUSE], orjson.loads(record[EVIDENCE]),
        None if record[LEFT] is None else fromordinal(record[LEFT]))


def row_record(row: RegistrationRow) -> Record:
    """A row judged in Python as a kept registration tuple (`RECORD_COLUMNS`)."""
    return (row.centre, row.awarding_body, row.deadline.toordinal(), row.learner,
            row.enrolment, row.programme_start.toordinal(),
            None if row.submitted is None else row.submitted.toordinal(), row.status,
            row.days_late, row.rule, row.rule_version, row.clause, json.dumps(row.evidence),
            None if row.left is None else row.left.toordinal(), "")


def _quoted(text: str) -> str:
    """A string literal in SQL (standard quoting, the same on both databases)."""
    return "'" + text.replace("'", "''") + "'"


def finding_row(found: Finding) -> dict[str, Any]:
    """A finding as the report's row (`Finding.as_row`'s keys), its dates as ISO text."""
    return {"rule": found.rule, "awarding_body": found.awarding_body,
            "rule_version": found.rule_version, "clause": found.clause,
            "severity": found.severity, "centre": found.centre, "learner": found.learner,
            "enrolment": found.enrolment,
            "dates": {key: None if day is None else day.isoformat()
                      for key, day in found.dates.items()},
            "evidence": found.evidence, "message": found.message, "citation": found.citation}


def finding_key(found: Finding) -> tuple[str, ...]:
    """`finding_order` as the kept findings' sort columns give it (the evidence as
    `report_rows.evidence_key`'s fixed-width text, which sorts as the lists do)."""
    return (found.centre, found.awarding_body, found.learner or "", found.enrolment or "",
            found.rule, "".join(str(position).zfill(EVIDENCE_DIGITS)
                                for position in found.evidence))


class DayIso(dict[int, str]):
    """Ordinal days as ISO text, each distinct day formatted once."""

    def __missing__(self, day: int) -> str:
        text = self[day] = date.fromordinal(day).isoformat()
        return text


class IsoDays(dict[str | None, date | None]):
    """ISO dates as dates, each distinct one parsed once (None for None)."""

    def __missing__(self, text: str | None) -> date | None:
        day = self[text] = None if text is None else date.fromisoformat(text)
        return day


class TimelinesReport:
    """`KeptReport`'s questions answered from timelines in memory (as recorded by a past
    moment, or for a login that may not write the kept rows): the projections' own code."""

    def __init__(self, timelines: list[Timeline], book: PolicyLike, on: date,
                 awarding_body: str | None = None, centre: str | None = None) -> None:
        self.timelines, self.book, self.on = timelines, book, on
        self.body, self.centre = awarding_body, centre
        self.rows, self._unjudged = late_registrations(timelines, book, on, awarding_body,
                                                       centre)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Timelines in memory are one snapshot already."""
        yield None

    def close(self) -> None:
        """Nothing to close."""

    def registrations(self, statuses: Iterable[str] | None = None, by: str = "deadline",
                      limit: int | None = None) -> Iterator[RegistrationRow]:
        wanted = None if statuses is None else tuple(statuses)
        rows = [row for row in self.rows if wanted is None or row.status in wanted]
        if by != "deadline":
            rows.sort(key=learner_order)
        return iter(rows[:limit] if limit else rows)

    def registration_records(self, statuses: Iterable[str] | None = None,
                             limit: int | None = None) -> Iterator[Record]:
        return map(row_record, self.registrations(statuses, limit=limit))

    def status_counts(self) -> Counter[str]:
        return Counter(row.status for row in self.rows)

    def body_status_counts(self) -> Counter[tuple[str, str]]:
        return Counter((row.awarding_body, row.status) for row in self.rows)

    def unjudged(self) -> list[Unjudged]:
        return list(self._unjudged)

    def widths(self) -> dict[str, int]:
        return {name: max((len(getattr(row, name)) for row in [*self.rows, *self._unjudged]),
                          default=0)
                for name in ("learner", "enrolment", "awarding_body")}

    def severity_counts(self) -> Counter[str]:
        return Counter(found.severity for found in self.findings())

    def finding_rows(self) -> Iterator[dict[str, Any]]:
        return map(finding_row, self.findings())

    def finding_records(self) -> Iterator[Record]:
        return map(finding_record, self.findings())

    def findings(self) -> Iterator[Finding]:
        return iter(maladministration(self.timelines, self.book, self.on, self.body,
                                      self.centre))
