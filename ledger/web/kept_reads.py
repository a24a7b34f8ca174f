"""The report pages read from the kept report rows, a page at a time (`KeptReads`).

`JudgedReads` (reads.py) held every row and finding of a judgement in the server (some 200
MB at 100,000 learners, per server process) and filtered, sorted and paged them there. Here
each read asks the kept rows, as `ledger report` reads them (`ledger.reporting`):

- judged today (or on any date): `dated_rows.report_on` (the current rows, with the few
  learners not yet stable on the date judged from their timelines; dated rows when many are);
- as recorded by a past moment (`as_at`): `history_queries.HistoryReport` (the kept rows
  standing then; the few learners the rows cannot answer for folded from their events).

A page of late registrations streams the report's rows (tuples, in the report's order),
keeps those the filters select and only the first `PREPARED_PAGES` pages of them in the
order asked (`heapq.nsmallest`, as stable as a sort), so a selection's first pages cost one
pass and a few hundred rows of memory; the dashboard's counts are made in one pass over the
rows and findings, holding none of them.

What was read is kept per the kept rows' position (`ReadCache`): served again until the rows
move on; once they have, the last result is still served (its digest says what it was
judged from) while one thread reads it again. The kept rows are brought up to date by
`RowsKeeper`: in a process of its own (`apart.refresh_apart`), once the ledger has stood
still `settle` seconds (or the rows are `longest` seconds behind), never in a page's request.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import exists, func, inspect, select, text

from aggregates.errors import ConcurrencyConflict
from ledger.reporting.dated_rows import DatedRowsReport, judge_dated, unstable_count
from ledger.reporting.fingerprint import rulebook_fingerprint
from ledger.reporting.history_queries import HistoryReport
from ledger.reporting.rebuild import catch_up_all
from ledger.reporting.report_queries import (
    BODY,
    CENTRE,
    DAYS,
    DEADLINE,
    ENROLMENT,
    IN_MEMORY_LEARNERS,
    LATE,
    LEARNER,
    START,
    STATUS,
    SUBMITTED,
    KeptReport,
    learner_topics,
    registration_row,
    row_record,
)
from ledger.reporting.report_rows import (
    learners_dated,
    learners_table,
    may_write_rows,
    refresh_rows,
    rows_state,
    state_table,
)
from ledger.reporting.reports import TIMELINES_TABLE, may_write_reports, open_view
from ledger.rules.rulesets import SEVERITIES, RuleBook
from ledger.storage.persistence import is_sqlite_in_memory
from ledger.web.reads import Basis, RowsPage, Summary
from ledger.web.shaping import (
    LONGEST_SECONDS,
    PAGE_SIZE,
    SETTLE_SECONDS,
    Options,
    _finding_month,
    _group,
)
from projections.late_registrations import RegistrationRow
from projections.maladministration import Finding, late_finding, persistent_late

if TYPE_CHECKING:
    from ledger.app import LedgerApp
    from ledger.web.sources import LedgerSource

log = logging.getLogger("ledger.web")
PREPARED_PAGES = 20  # a selection's first pages read in one pass, kept together
KEPT_READS = 64  # results kept (pages, counts), the least recently used let go first
CHECK_SECONDS = 0.5  # the kept rows' position read again at most this often
SORT_COLUMNS = {"programme_start": START, "deadline": DEADLINE, "days_late": DAYS,
                "learner": LEARNER, "status": STATUS, "awarding_body": BODY,
                "submitted": SUBMITTED}
SEVERITY_ORDER = {name: index for index, name in enumerate(reversed(SEVERITIES))}


# ----- one report's reads -------------------------------------------------------------------

class Desc:
    """A value that sorts the other way round (a descending column in an ascending key)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Desc) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def record_key(sort: str, descending: bool = False,
               ) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """The late-registration page's order over the report's tuples: the sort column (a
    missing value last; first when descending), then learner and enrolment (all three the
    other way round when descending); equal ones in the report's order (centre, awarding
    body, deadline), whichever way."""
    column = SORT_COLUMNS[sort]

    def key(record: tuple[Any, ...]) -> tuple[Any, ...]:
        value = record[column]
        asked = ((True, 0) if value is None else (False, value)) + (
            record[LEARNER], record[ENROLMENT])
        if descending:
            asked = tuple(Desc(part) for part in asked)
        return (*asked, record[CENTRE], record[BODY], record[DEADLINE])

    return key


def selected(records: Iterable[tuple[Any, ...]], options: Options,
             counted: list[int]) -> Iterator[tuple[Any, ...]]:
    """The report's registration tuples the filters select; their number into `counted`."""
    status = options.status
    start_from = options.start_from.toordinal() if options.start_from else None
    start_to = options.start_to.toordinal() if options.start_to else None
    for record in records:
        if status is not None and record[STATUS] != status:
            continue
        if start_from is not None and record[START] < start_from:
            continue
        if start_to is not None and record[START] > start_to:
            continue
        counted[0] += 1
        yield record


def first_rows(report: KeptReport, options: Options,
               upto: int | None) -> tuple[list[RegistrationRow], int]:
    """The first `upto` rows of the selection in the order asked (all when None), and how
    many the selection holds: sorted and counted by the database where the kept rows
    answer alone (`PageQueries`), else in one pass over the report's rows here."""
    queries = PageQueries(report)
    if queries.in_sql:
        records, total = queries.late_records(options, upto)
        return [registration_row(record) for record in records], total
    counted = [0]
    found = selected(report.registration_records(), options, counted)
    key = record_key(options.sort, options.descending)
    ordered = sorted(found, key=key) if upto is None else heapq.nsmallest(upto, found, key=key)
    return [registration_row(record) for record in ordered], counted[0]


def findings_page(report: KeptReport, options: Options) -> tuple[list[Finding], int]:
    """One page of the findings of the severity asked for, most severe first, and how many
    there are: one pass, keeping at most the pages up to the one asked."""
    severity, count = options.severity, [0]

    def wanted() -> Iterator[Finding]:
        for found in report.findings():
            if severity is None or found.severity == severity:
                count[0] += 1
                yield found

    def key(found: Finding) -> tuple[Any, ...]:
        return (SEVERITY_ORDER.get(found.severity, 9), found.learner or "",
                found.enrolment or "", found.rule)

    upto = options.page * PAGE_SIZE
    ordered = heapq.nsmallest(upto, wanted(), key=key)
    pages = max(1, -(-count[0] // PAGE_SIZE))
    start = (min(options.page, pages) - 1) * PAGE_SIZE
    return ordered[start:start + PAGE_SIZE], count[0]


def dashboard_counts(rows: Iterable[RegistrationRow], unjudged: Iterable[Any],
                     findings: Iterable[Finding]) -> dict[str, Any]:
    """`shaping.dashboard`'s counts in one pass over the rows and findings, holding none."""
    counts = Counts()
    for row in rows:
        counts.registration(row.awarding_body, row.centre, row.status, row.deadline)
    for item in unjudged:
        counts.statuses[(item.awarding_body, getattr(item, "centre", "") or "",
                         "not judged")] += 1
    for found in findings:
        counts.finding(found.awarding_body, found.centre, found.severity,
                       _finding_month(found))
    return counts.dashboard()


class Counts:
    """The dashboard's counts, added to by group (`shaping.dashboard`'s shape)."""

    def __init__(self) -> None:
        self.statuses: Counter[tuple[str, str, str]] = Counter()
        self.severities: Counter[tuple[str, str, str]] = Counter()
        self.late: Counter[str] = Counter()
        self.overdue: Counter[str] = Counter()
        self.months: Counter[str] = Counter()

    def registration(self, body: str, centre: str, status: str, deadline: date,
                     count: int = 1) -> None:
        self.statuses[(body, centre, status)] += count
        if status == "late":
            self.late[deadline.strftime("%Y-%m")] += count
        elif status == "overdue":
            self.overdue[deadline.strftime("%Y-%m")] += count

    def finding(self, body: str, centre: str, severity: str, month: str | None,
                count: int = 1) -> None:
        self.severities[(body, centre, severity)] += count
        if month is not None:
            self.months[month] += count

    def dashboard(self) -> dict[str, Any]:
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, counted in (("statuses", self.statuses), ("severities", self.severities)):
            for (body, centre, name), count in counted.items():
                group = groups.get((body, centre)) or groups.setdefault(
                    (body, centre), _group(body, centre))
                group[kind][name] += count
        statuses: Counter[str] = Counter()
        severities: Counter[str] = Counter()
        for (_body, _centre, name), count in self.statuses.items():
            if name != "not judged" and count:
                statuses[name] += count
        for (_body, _centre, name), count in self.severities.items():
            if count:
                severities[name] += count
        return {"groups": [groups[key] for key in sorted(groups)], "late": +self.late,
                "overdue": +self.overdue, "findings": +self.months, "statuses": statuses,
                "severities": severities}


def summary_counts(report: KeptReport) -> dict[str, Any]:
    """The dashboard's counts of a report: grouped by the database where the kept rows
    answer alone (`PageQueries`), else in one pass over its rows and findings."""
    queries = PageQueries(report)
    if queries.in_sql:
        return queries.dashboard()
    return dashboard_counts(report.registrations(), report.unjudged(), report.findings())


class LateRow(NamedTuple):
    """What `persistent_late` reads of a late registration."""

    centre: str
    awarding_body: str
    deadline: date
    learner: str
    enrolment: str
    programme_start: date
    evidence: list[int]


class PageQueries:
    """A page's questions asked of a `KeptReport` in SQL: sorted, limited and counted, or
    grouped, by the database. The learners the report judges from their timelines
    (`judged_here`: not yet stable on the date) are few and merged in here. Reads the
    report's own SQL pieces (its status and days-late expressions, its conditions and the
    learners it judges here), so that both read the same rows the same way; a report that
    leaves kept learners out for others' timelines (`override`: as recorded by a past
    moment, with events since the rows were judged) is not `in_sql`."""

    def __init__(self, report: KeptReport) -> None:
        self.report = report
        self.in_sql = not report.override
        self.postgres = False

    def _conditions(self, options: Options | None, findings: bool = False,
                    ) -> tuple[str, list[Any]]:
        where, params = self.report._conditions(findings)
        if options is None or findings:
            return where, params
        status, _ = self.report._judged()
        if options.status is not None:
            where += f" AND {status} = ?"
            params.append(options.status)
        if options.start_from is not None:
            where += " AND programme_start >= ?"
            params.append(options.start_from.toordinal())
        if options.start_to is not None:
            where += " AND programme_start <= ?"
            params.append(options.start_to.toordinal())
        return where, params

    def _here_rows(self, options: Options | None = None) -> list[RegistrationRow]:
        rows = self.report._judged_here_report[0]
        if options is None:
            return list(rows)
        start_from = options.start_from
        start_to = options.start_to
        return [row for row in rows
                if (options.status is None or row.status == options.status)
                and (start_from is None or row.programme_start >= start_from)
                and (start_to is None or row.programme_start <= start_to)]

    def late_records(self, options: Options, upto: int | None,
                     ) -> tuple[list[tuple[Any, ...]], int]:
        """The first `upto` registration tuples of the selection in the order asked, and
        how many it holds."""
        report = self.report
        status, days_late = report._judged()
        where, params = self._conditions(options)
        with report.snapshot() as snapshot:
            self.postgres = snapshot.postgres
            (total,) = report._rows(f"SELECT count(*) FROM {report.registrations_from} "
                                    f"WHERE {where} AND deadline IS NOT NULL", params)[0]
            column = {"status": status, "days_late": days_late}.get(options.sort,
                                                                    options.sort)
            if options.sort == "status" and self.postgres:
                column = f'({status}) COLLATE "C"'
            way = " DESC" if options.descending else ""
            order = (f"({column}) IS NULL{way}, {column}{way}, learner{way}, "
                     f"enrolment{way}, centre, awarding_body, deadline")
            query = (f"SELECT centre, awarding_body, deadline, learner, enrolment, "
                     f"programme_start, submitted, {status}, {days_late}, rule, "
                     f"rule_version, clause, evidence, left_on, learner_id "
                     f"FROM {report.registrations_from} WHERE {where} "
                     f"AND deadline IS NOT NULL ORDER BY {order}")
            if upto is not None:
                query += f" LIMIT {int(upto)}"
            kept = report._rows(query, params)
        here = [row_record(row) for row in self._here_rows(options)]
        key = record_key(options.sort, options.descending)
        here.sort(key=key)
        merged = list(heapq.merge(kept, here, key=key))
        return (merged if upto is None else merged[:upto]), int(total) + len(here)

    def dashboard(self) -> dict[str, Any]:
        """`shaping.dashboard`'s counts, grouped by the database."""
        report, counts = self.report, Counts()
        status, _ = report._judged()
        where, params = self._conditions(None)
        book, on = report.book, report.on
        with report.snapshot():
            grouped = report._rows(
                f"SELECT awarding_body, centre, {status}, deadline, count(*) "
                f"FROM {report.registrations_from} WHERE {where} AND deadline IS NOT NULL "
                "GROUP BY 1, 2, 3, 4", params)
            late_days = ("CASE WHEN submitted IS NOT NULL AND submitted > deadline "
                         "THEN submitted ELSE deadline END")
            late_groups = report._rows(
                f"SELECT awarding_body, centre, programme_start, {late_days}, count(*) "
                f"FROM {report.registrations_from} WHERE {where} AND deadline IS NOT NULL "
                f"AND {status} IN (?, ?) GROUP BY 1, 2, 3, 4", [*params, *LATE])
            late_rows = [LateRow(centre, body, date.fromordinal(deadline), learner,
                                 enrolment, date.fromordinal(start), [])
                         for centre, body, deadline, learner, enrolment, start
                         in report._rows(
                             f"SELECT centre, awarding_body, deadline, learner, enrolment, "
                             f"programme_start FROM {report.registrations_from} "
                             f"WHERE {where} AND deadline IS NOT NULL AND {status} IN (?, ?)",
                             [*params, *LATE])]
            fwhere, fparams = report._conditions(findings=True)
            kept_findings = report._rows(
                f"SELECT awarding_body, centre, severity, dates, count(*) "
                f"FROM {report.findings_from} WHERE {fwhere} "
                "AND (due_after IS NULL OR due_after < ?) GROUP BY 1, 2, 3, 4",
                [*fparams, on.toordinal()])
            unjudged = report.unjudged()
            here = self._here_rows()
            here_findings = report._findings_here()
        fromordinal = date.fromordinal
        for body, centre, name, deadline, count in grouped:
            counts.registration(body, centre, name, fromordinal(deadline), int(count))
        for row in here:
            counts.registration(row.awarding_body, row.centre, row.status, row.deadline)
        for item in unjudged:
            counts.statuses[(item.awarding_body, item.centre or "", "not judged")] += 1
        rules: dict[tuple[str, int], Any] = {}
        for body, centre, start, last, count in late_groups:
            rule = rules.get((body, start))
            if rule is None:
                in_force = book.rules_in_force(body, fromordinal(start))
                assert in_force is not None
                rule = rules[(body, start)] = in_force["late-registration"]
            month = fromordinal(max(start, last)).strftime("%Y-%m")
            counts.finding(rule.awarding_body, centre, rule.severity, month, int(count))
        late_here = [row for row in here if row.status in LATE]
        for row in late_here:
            found = late_finding(row, book, on)
            counts.finding(found.awarding_body, found.centre, found.severity,
                           _finding_month(found))
        months: dict[str, str | None] = {}
        for body, centre, severity, dates, count in kept_findings:
            month = months.get(dates, "")
            if month == "":
                days = [day for day in orjson.loads(dates).values() if day]
                month = months[dates] = max(days)[:7] if days else None
            counts.finding(body, centre, severity, month, int(count))
        everyone_late = [*late_rows, *(LateRow(row.centre, row.awarding_body, row.deadline,
                                               row.learner, row.enrolment,
                                               row.programme_start, [])
                                       for row in late_here)]
        for found in [*persistent_late(everyone_late, book), *here_findings]:
            counts.finding(found.awarding_body, found.centre, found.severity,
                           _finding_month(found))
        return counts.dashboard()


# ----- what was read, kept per position -----------------------------------------------------

class ReadCache:
    """Results kept per key and the position they were read at. A result read at another
    position is still returned while one thread reads it again (`refresh` each key once at
    a time); a key never read is read in the caller's thread (readers of one key wait for
    one read)."""

    def __init__(self, size: int = KEPT_READS) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()
        self._reading: dict[tuple[Any, ...], threading.Lock] = {}
        self._refreshing: set[tuple[Any, ...]] = set()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], position: int, read: Callable[[], tuple[int, Any]],
            background: bool = True) -> Any:
        """The result for `key` at `position`: kept, else read (`read` returns the position
        it read at and the result)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                if kept[0] == position:
                    return kept[1]
                if background:
                    if key not in self._refreshing:
                        self._refreshing.add(key)
                        threading.Thread(target=self._refresh, args=(key, read), daemon=True,
                                         name="ledger-web-read").start()
                    return kept[1]
            reading = self._reading.setdefault(key, threading.Lock())
        with reading:
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None and (kept[0] == position or background):
                    return kept[1]
            return self._store(key, *read())

    def _refresh(self, key: tuple[Any, ...], read: Callable[[], tuple[int, Any]]) -> None:
        try:
            self._store(key, *read())
        except Exception:  # the kept result stays shown; the next request tries again
            log.exception("reading a report page again failed")
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _store(self, key: tuple[Any, ...], position: int, result: Any) -> Any:
        with self._lock:
            self._kept[key] = (position, result)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return result

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


# ----- the kept rows kept up to date --------------------------------------------------------

@dataclass
class RowsKeeper:
    """Brings the kept rows up to date with the ledger, never in a page's request: once the
    ledger has stood still `settle` seconds (or the rows are `longest` seconds behind it),
    `refresh` runs on a thread of its own (`apart.refresh_apart` in a server: a process of
    its own). `current` (rows missing, or judged by another rule book) refreshes at once."""

    refresh: Callable[[date | None], None]
    settle: float = SETTLE_SECONDS
    longest: float = LONGEST_SECONDS

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._running = False
        self._head = (-1, 0.0)  # the last head seen, and since when
        self._behind_since: float | None = None

    def seen(self, head: int, rows_behind: bool) -> None:
        """A request saw the ledger's head; start a refresh when it is time."""
        now = time.monotonic()
        with self._lock:
            if head != self._head[0]:
                self._head = (head, now)
            if not rows_behind:
                self._behind_since = None
                return
            if self._behind_since is None:
                self._behind_since = now
            due = (now - self._head[1] >= self.settle
                   or now - self._behind_since >= self.longest)
            if not due or self._running:
                return
            self._running = True
        threading.Thread(target=self._run, daemon=True, name="ledger-web-rows").start()

    def now(self, on: date | None = None) -> None:
        """Refresh in this thread (the rows cannot be read as they are)."""
        self.refresh(on)

    def _run(self) -> None:
        try:
            self.refresh(None)
        except Exception:  # shown by the next request's own refresh, if it still fails
            log.exception("bringing the kept report rows up to date failed")
        finally:
            with self._lock:
                self._running = False
                self._behind_since = None


# ----- the reads --------------------------------------------------------------------------

class KeptReads:
    """`reads.ReportReads` over a live ledger's kept report rows (see the module's text).

    `open_report(options)` gives the report to read (`report_on` or `HistoryReport` over the
    application), `state()` the kept rows' position (None: none kept, or judged by another
    rule book), `head()` the ledger's last position, `rows_behind(position)` whether learner
    events were recorded after it, `refresh(on)` brings the rows up to date (and keeps dated
    rows for `on`, when given)."""

    def __init__(self, *, open_report: Callable[[Options], KeptReport],
                 state: Callable[[], int | None], head: Callable[[], int],
                 rows_behind: Callable[[int], bool], refresh: Callable[[date | None], None],
                 settle: float = SETTLE_SECONDS, longest: float = LONGEST_SECONDS) -> None:
        self.open_report, self.state, self.head = open_report, state, head
        self.rows_behind = rows_behind
        self.keeper = RowsKeeper(refresh, settle, longest)
        self.cache = ReadCache()
        self._checked: tuple[float, int] | None = None  # when the position was last read

    # the pages' questions

    def prepare(self) -> None:
        """Read what the first pages show (the dashboard and the first late registrations,
        judged today), so that no page pays for it: a server process's start."""
        options = Options(on=date.today())
        self.summary(options)
        self.late_rows(options)

    def summary(self, options: Options) -> Summary:
        key = ("summary", options.on, options.as_at, options.awarding_body, options.centre)
        basis, counts = self._kept(key, options, summary_counts)
        return Summary(basis, counts)

    def late_rows(self, options: Options, paged: bool = True) -> RowsPage[RegistrationRow]:
        selection = ("late", options.on, options.as_at, options.awarding_body, options.centre,
                     options.status, options.start_from, options.start_to, options.sort,
                     options.descending)
        if not paged:  # a download: every row, read now
            basis, (rows, total) = self._read(options, lambda report: first_rows(
                report, options, None))
            return RowsPage(basis, rows, total, 1)
        upto = max(PREPARED_PAGES, options.page) * PAGE_SIZE
        key = selection if options.page <= PREPARED_PAGES else (*selection, options.page)
        basis, (rows, total) = self._kept(key, options, lambda report: first_rows(
            report, options, upto))
        pages = max(1, -(-total // PAGE_SIZE))
        start = (min(options.page, pages) - 1) * PAGE_SIZE
        return RowsPage(basis, rows[start:start + PAGE_SIZE], total, pages)

    def findings(self, options: Options) -> RowsPage[Finding]:
        key = ("findings", options.on, options.as_at, options.awarding_body, options.centre,
               options.severity, options.page)
        basis, (rows, total) = self._kept(key, options, lambda report: findings_page(
            report, options))
        return RowsPage(basis, rows, total, max(1, -(-total // PAGE_SIZE)))

    # reading

    def _kept(self, key: tuple[Any, ...], options: Options,
              read: Callable[[KeptReport], Any]) -> tuple[Basis, Any]:
        position = self._position(options)
        return self.cache.get(key, position, lambda: self._read_at(options, read))

    def _read(self, options: Options, read: Callable[[KeptReport], Any]) -> tuple[Basis, Any]:
        self._position(options)
        return self._read_at(options, read)[1]

    def _position(self, options: Options) -> int:
        """The kept rows' position, once they are there and judged by this rule book (at
        once, when they are not); a refresh started when the ledger has moved on. Asked of
        the database at most every `CHECK_SECONDS` (three queries: some milliseconds)."""
        now = time.monotonic()
        checked = self._checked
        if checked is not None and now - checked[0] < CHECK_SECONDS:
            return checked[1]
        position = self.state()
        if position is None:
            self.keeper.now()
            position = self.state()
            assert position is not None
        self.keeper.seen(self.head(), self.rows_behind(position))
        self._checked = (now, position)
        return position

    def _read_at(self, options: Options,
                 read: Callable[[KeptReport], Any]) -> tuple[int, tuple[Basis, Any]]:
        """The report's read, with its basis, in one snapshot; the kept rows brought up to
        date first when another process caught the timelines up since they were judged."""
        for attempt in itertools.count():
            try:
                return self._read_once(options, read)
            except ConcurrencyConflict:
                if attempt:
                    raise
                self.keeper.now()
        raise AssertionError("unreachable")

    def _read_once(self, options: Options,
                   read: Callable[[KeptReport], Any]) -> tuple[int, tuple[Basis, Any]]:
        report = self.open_report(options)
        try:
            with report.snapshot():
                position = report.position()
                shown = position if options.as_at is None else report.recorded_position()
                digest = report.digest(shown)  # as `ledger report` names it
                found = read(report)
                unjudged = len(report.unjudged())
                centres = centres_of(report)
        finally:
            report.close()
        basis = Basis(str(digest), shown, options.on, options.as_at,
                      centres, unjudged)
        return position, (basis, found)


# ----- over a live ledger -------------------------------------------------------------------

def uncovered_count(app: LedgerApp, on: date) -> int:
    """Learners not yet stable on the date whose dated rows do not cover it (those
    `dated_rows.judge_dated` would judge)."""
    learners, dated = learners_table, learners_dated
    day = on.toordinal()
    covered = exists().where(dated.c.learner_id == learners.c.learner_id,
                             dated.c.date_from <= day, dated.c.date_to > day)
    query = select(func.count()).where(learners.c.stable_from > day, ~covered)
    with app.engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


class LedgerRows:
    """What `KeptReads` asks of a live ledger: its reports (as `ledger report` reads them),
    the kept rows' state, and their refresh (apart: in a process of its own)."""

    def __init__(self, app: LedgerApp, book: RuleBook, apart: bool) -> None:
        self.app, self.book, self.apart = app, book, apart
        self.fingerprint = rulebook_fingerprint(book)
        self.topics = learner_topics()
        self._refreshing = threading.Lock()
        self._opened = False  # the kept rows' tables are known to be there

    def open_report(self, options: Options) -> KeptReport:
        app, book = self.app, self.book
        if options.as_at is not None:
            return HistoryReport(app, book, options.on, options.as_at, options.awarding_body,
                                 options.centre)
        if unstable_count(app, options.on, options.centre) <= IN_MEMORY_LEARNERS:
            return KeptReport(app, book, options.on, options.awarding_body, options.centre)
        if uncovered_count(app, options.on):
            self.refresh(options.on)  # the dated rows for the date, judged apart
        return DatedRowsReport(app, book, options.on, options.awarding_body, options.centre)

    def state(self) -> int | None:
        """The kept rows' position, None when there are none judged by this rule book (or
        no table of them yet: a refresh makes them)."""
        if not self._opened:
            if not inspect(self.app.engine).has_table(state_table.name):
                return None
            self._opened = True
        with self.app.engine.connect() as connection:
            state = rows_state(connection)
        if state is None or state.fingerprint != self.fingerprint:
            return None
        return state.position

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0  # type: ignore[no-any-return]

    def rows_behind(self, position: int) -> bool:
        """Whether a learner event was recorded after the position (the reference index's
        events change no report)."""
        marks = ", ".join(f":t{index}" for index in range(len(self.topics)))
        query = text(f"SELECT 1 FROM ledger_events WHERE id > :after AND topic IN ({marks}) "
                     "LIMIT 1")
        values = {f"t{index}": topic for index, topic in enumerate(self.topics)}
        with self.app.engine.connect() as connection:
            return connection.execute(query, {"after": position, **values}).first() is not None

    def refresh(self, on: date | None) -> None:
        """The timelines caught up, the kept rows judged again where they moved (and dated
        rows kept for `on`): apart when the source judges apart, else here."""
        with self._refreshing:
            if self.apart:
                from ledger.web.apart import refresh_apart

                refresh_apart(self.app.engine.url.render_as_string(hide_password=False),
                              self.book, on)
            else:
                refresh_here(self.app, self.book, on)


def centres_of(report: KeptReport) -> tuple[str, ...]:
    """The centres of the learners the report reads (of its centre, when it has one)."""
    sql, params = f"SELECT DISTINCT centre FROM {report.learners_from} WHERE centre IS NOT NULL", []
    if report.centre is not None:
        sql, params = sql + " AND centre = ?", [report.centre]
    found = {centre for (centre,) in report._rows(sql, params)}
    found.update(t["centre"] for t in report.judged_here
                 if t["centre"] and report.centre in (None, t["centre"]))
    return tuple(sorted(found))


def refresh_here(app: LedgerApp, book: RuleBook, on: date | None) -> None:
    """What a refresh does, in this process."""
    catch_up_all(app, open_view(app))
    refresh_rows(app, book)
    if on is not None:
        judge_dated(app, book, on)


def ledger_reads(source: LedgerSource, book: RuleBook) -> KeptReads | None:
    """`KeptReads` over a live ledger, or None when this login may not keep the report
    rows (its pages are then judged in memory, `reads.JudgedReads`)."""
    app = source.app
    if is_sqlite_in_memory(app.engine) or not may_write_reports(app):
        return None
    # with no timelines yet, this login makes them (it may) and then owns the rows' tables
    if inspect(app.engine).has_table(TIMELINES_TABLE) and not may_write_rows(app):
        return None
    rows = LedgerRows(app, book, source.judge_apart)
    return KeptReads(open_report=rows.open_report, state=rows.state, head=rows.head,
                     rows_behind=rows.rows_behind, refresh=rows.refresh)
