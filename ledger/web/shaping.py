"""Report rows for pages: query options parsed, rows filtered, sorted and paged; the audit
trail and replay of one learner; personal data withheld from those who may not see it."""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aggregates.errors import InvalidValue
from aggregates.values import parse_awarding_body, parse_centre, parse_date, parse_timestamp
from ledger.privacy.sealing import Sealed
from ledger.rules.rulesets import SEVERITIES, RuleBook
from ledger.web.sources import Source
from projections.audit import audit_rows, event_name
from projections.late_registrations import STATUSES, RegistrationRow, late_registrations
from projections.maladministration import Finding, maladministration
from projections.timeline import apply_event, new_timeline, summarise

PAGE_SIZE = 50
WITHHELD = "withheld"
LATE_SORTS = ("programme_start", "deadline", "days_late", "learner", "status",
              "awarding_body", "submitted")
SETTLE_SECONDS = 2.0  # the ledger still this long before its reports are judged again
LONGEST_SECONDS = 120.0  # ... or the judgement shown this old, whatever the ledger does
AGE_BANDS = ((16, "under 16"), (19, "16 to 18"), (24, "19 to 23"), (200, "24 and over"))


@dataclass(frozen=True)
class Options:
    """What a report page was asked for (its query string, checked)."""

    on: date
    as_at: datetime | None = None
    awarding_body: str | None = None
    centre: str | None = None
    status: str | None = None
    severity: str | None = None
    start_from: date | None = None
    start_to: date | None = None
    sort: str = "programme_start"
    descending: bool = False
    page: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, str], today: date | None = None) -> Options:
        """Options from a query string; a malformed value is an InvalidValue (a 400)."""
        def given(name: str) -> str | None:
            value = (query.get(name) or "").strip()
            return value or None

        status, severity = given("status"), given("severity")
        if status is not None and status not in STATUSES:
            raise InvalidValue("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidValue("severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
        sort = given("sort") or "programme_start"
        if sort not in LATE_SORTS:
            raise InvalidValue("sort", f"{sort!r} is not one of {', '.join(LATE_SORTS)}")
        page_text = given("page") or "1"
        if not page_text.isdigit() or int(page_text) < 1:
            raise InvalidValue("page", f"{page_text!r} is not a page number")
        on, as_at = given("on"), given("as_at")
        body, centre = given("awarding_body"), given("centre")
        start_from, start_to = given("start_from"), given("start_to")
        return cls(
            on=parse_date(on, "on") if on else (today or date.today()),
            as_at=parse_timestamp(as_at, "as_at") if as_at else None,
            awarding_body=parse_awarding_body(body) if body else None,
            centre=parse_centre(centre) if centre else None,
            status=status, severity=severity,
            start_from=parse_date(start_from, "start_from") if start_from else None,
            start_to=parse_date(start_to, "start_to") if start_to else None,
            sort=sort, descending=given("dir") == "desc", page=int(page_text),
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """These options as a query string's values (for links), with some changed."""
        values = {
            "on": self.on.isoformat(), "as_at": self.as_at.isoformat() if self.as_at else "",
            "awarding_body": self.awarding_body or "", "centre": self.centre or "",
            "status": self.status or "", "severity": self.severity or "",
            "start_from": self.start_from.isoformat() if self.start_from else "",
            "start_to": self.start_to.isoformat() if self.start_to else "",
            "sort": self.sort, "dir": "desc" if self.descending else "asc",
            "page": str(self.page),
        }
        values.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in values.items() if value}


@dataclass
class Judged:
    """The reports of a snapshot judged on a date: what every report page reads."""

    rows: list[RegistrationRow]
    unjudged: list[Any]
    findings: list[Finding]
    digest: str
    position: int
    on: date
    as_at: datetime | None
    centres: list[str] = field(default_factory=list)
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The dashboard's counts, worked out once per judgement."""
        if self._summary is None:
            self._summary = dashboard(self)
        return self._summary


class Reports:
    """Judges snapshots and keeps the last few results. A result is served while the ledger
    has not moved; once it has, the result is still served (its digest says what it was
    judged from) while one thread judges again in the background, at most every `fresh`
    seconds, and only once the ledger has stood still for `settle` seconds (an import
    between two batches does not: judging while it writes would take the server's time from
    its pages for a judgement already behind), or when the result is `longest` seconds old
    whatever the ledger does. Pages stay fast while an import writes and are at most one
    judgement behind."""

    def __init__(self, source: Source, book: RuleBook, keep: int = 16, fresh: float = 5.0,
                 settle: float = SETTLE_SECONDS, longest: float = LONGEST_SECONDS) -> None:
        self.source, self.book, self.keep, self.fresh = source, book, keep, fresh
        self.settle, self.longest = settle, longest
        self.prepare: Callable[[Judged, Options], None] | None = None  # before it is shown
        self.released: Callable[[Judged], None] | None = None  # let go of, before replaced
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, float, Judged]] = OrderedDict()
        self._refreshing: set[tuple[Any, ...]] = set()
        self._lock = threading.Lock()
        self._judging = threading.Lock()
        self._head: tuple[int, float] = (-1, 0.0)  # the last head seen, and since when

    def judged(self, options: Options) -> Judged:
        key = (options.on, options.as_at, options.awarding_body, options.centre)
        head = self.source.head()
        with self._lock:
            now = time.monotonic()
            if head != self._head[0]:
                self._head = (head, now)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                if self._stale(cached[0], cached[1], head, now) and (
                        key not in self._refreshing):
                    self._refreshing.add(key)
                    threading.Thread(target=self._refresh, args=(key, head, options),
                                     daemon=True, name="ledger-reports").start()
                return cached[2]
        with self._judging:  # readers arriving together wait for one judgement
            with self._lock:
                cached = self._cache.get(key)
            return cached[2] if cached is not None else self._judge(key, head, options)

    def _stale(self, judged_head: int, judged_at: float, head: int, now: float) -> bool:
        """Judge again: the ledger moved since, `fresh` seconds have passed, and the ledger
        has stood still `settle` seconds (or the judgement is `longest` seconds old)."""
        age = now - judged_at
        return judged_head != head and age >= self.fresh and (
            now - self._head[1] >= self.settle or age >= self.longest)

    def _refresh(self, key: tuple[Any, ...], head: int, options: Options) -> None:
        try:
            with self._judging:
                self._judge(key, head, options)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _judge(self, key: tuple[Any, ...], head: int, options: Options) -> Judged:
        kept = None if options.as_at is not None else self.source.kept_reports(
            self.book, options.on, options.awarding_body, options.centre,
            lambda: self._release(key))
        if kept is not None:  # read from the kept report rows, as `ledger report` reads them
            return self._keep(key, head, Judged(
                kept.rows, kept.unjudged, kept.findings, str(kept.digest), kept.position,
                options.on, options.as_at, kept.centres), options)
        snapshot = self.source.snapshot(options.as_at, options.centre)
        rows, unjudged = late_registrations(snapshot.timelines, self.book, options.on,
                                            options.awarding_body, options.centre)
        findings = maladministration(snapshot.timelines, self.book, options.on,
                                     options.awarding_body, options.centre)
        centres = sorted({t["centre"] for t in snapshot.timelines if t["centre"]})
        return self._keep(key, head, Judged(rows, unjudged, findings, str(snapshot.digest),
                                            snapshot.position, options.on, options.as_at,
                                            centres), options)

    def _release(self, key: tuple[Any, ...]) -> None:
        """Let go of the judgement about to be replaced, before the new one is loaded (the
        server then holds one judgement, not two): until it is, the pages that read it wait
        for the new one (the judging lock is held)."""
        with self._lock:
            dropped = self._cache.pop(key, None)
        if dropped is not None and self.released is not None:
            self.released(dropped[2])

    def _keep(self, key: tuple[Any, ...], head: int, result: Judged,
              options: Options) -> Judged:
        """Keep a judgement (the last `keep` of them) and return it, prepared first (its
        dashboard counts, and what `prepare` adds), so that no page pays for that after a
        judgement made in the background."""
        result.summary()
        if self.prepare is not None:
            self.prepare(result, options)
        with self._lock:
            self._cache[key] = (head, time.monotonic(), result)
            self._cache.move_to_end(key)
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return result


def filter_rows(rows: list[RegistrationRow], options: Options) -> list[RegistrationRow]:
    """The late-registration rows the filters select, sorted as asked."""
    found = [row for row in rows
             if (options.status is None or row.status == options.status)
             and (options.start_from is None or row.programme_start >= options.start_from)
             and (options.start_to is None or row.programme_start <= options.start_to)]

    def key(row: RegistrationRow) -> tuple[Any, ...]:
        value = getattr(row, options.sort)
        return (value is None, value or "", row.learner, row.enrolment)

    return sorted(found, key=key, reverse=options.descending)


def page_of(rows: list[Any], page: int, size: int = PAGE_SIZE) -> tuple[list[Any], int]:
    """One page of rows and the number of pages (at least 1)."""
    pages = max(1, -(-len(rows) // size))
    start = (min(page, pages) - 1) * size
    return rows[start:start + size], pages


def filter_findings(findings: list[Finding], options: Options) -> list[Finding]:
    """Findings of the severity asked for, most severe first."""
    order = {name: index for index, name in enumerate(reversed(SEVERITIES))}
    found = [f for f in findings if options.severity in (None, f.severity)]
    return sorted(found, key=lambda f: (order.get(f.severity, 9), f.learner or "",
                                        f.enrolment or "", f.rule))


def dashboard(judged: Judged) -> dict[str, Any]:
    """Counts per awarding body and centre, by registration status and finding severity,
    and the monthly series of late and overdue registrations and of findings (counted by
    key first: one group is made per awarding body and centre, not per row)."""
    statuses = Counter((row.awarding_body, row.centre, row.status) for row in judged.rows)
    statuses.update((item.awarding_body, getattr(item, "centre", "") or "", "not judged")
                    for item in judged.unjudged)
    severities = Counter((found.awarding_body, found.centre, found.severity)
                         for found in judged.findings)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, counted in (("statuses", statuses), ("severities", severities)):
        for (body, centre, name), count in counted.items():
            group = groups.get((body, centre)) or groups.setdefault(
                (body, centre), _group(body, centre))
            group[kind][name] += count
    late = Counter(row.deadline.strftime("%Y-%m") for row in judged.rows
                   if row.status == "late")
    overdue = Counter(row.deadline.strftime("%Y-%m") for row in judged.rows
                      if row.status == "overdue")
    findings = Counter(_finding_month(f) for f in judged.findings)
    findings.pop(None, None)
    return {"groups": [groups[key] for key in sorted(groups)],
            "late": late, "overdue": overdue, "findings": findings,
            "statuses": Counter(row.status for row in judged.rows),
            "severities": Counter(f.severity for f in judged.findings)}


def _group(body: str, centre: str) -> dict[str, Any]:
    return {"awarding_body": body, "centre": centre, "statuses": Counter(),
            "severities": Counter()}


def _finding_month(found: Finding) -> str | None:
    days = [d for d in found.dates.values() if isinstance(d, date)]
    return max(days).strftime("%Y-%m") if days else None


def months(*series: Counter[str], last: int = 24) -> list[str]:
    """Every month from the first in the series to the last (at most `last` of them)."""
    keys = sorted(set().union(*series))
    if not keys:
        return []
    year, month = (int(part) for part in keys[0].split("-"))
    end = keys[-1]
    found = []
    while True:
        key = f"{year:04d}-{month:02d}"
        found.append(key)
        if key >= end:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found[-last:]


def age_band(born: date | None, on: date) -> str:
    """An age band (ESFA's funding bands) in place of a date of birth."""
    if not isinstance(born, date):
        return "not known"
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return next(label for limit, label in AGE_BANDS if age < limit)


def withheld(value: Any) -> Any:
    """A value with every personal value not opened (sealed) shown as `withheld`."""
    if isinstance(value, Sealed):
        return WITHHELD
    if isinstance(value, dict):
        return {key: withheld(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [withheld(item) for item in value]
    return value


def trail(events: list[tuple[int, Any]], as_at: datetime | None,
          stamps: dict[int, Any] | None = None) -> list[dict[str, Any]]:
    """The audit rows of a learner (as the CLI's `ledger audit`, with the login the chain
    stamped beside the actor), with amendments as before and after, and personal values that
    were not opened shown as withheld."""
    rows = []
    for row in audit_rows(events, as_at, stamps):
        row = withheld(row)
        changes = dict(row["changes"])
        if row["event"] == "DetailsAmended":
            row["before_after"] = (changes.get("field"), changes.get("old"), changes.get("new"))
            for key in ("field", "old", "new"):
                changes.pop(key, None)
        row["details"] = changes
        rows.append(row)
    return rows


@dataclass(frozen=True)
class LearnerJudged:
    """One learner's enrolments and findings judged on a date from their own events alone,
    as the ledger knew them (as at): the rows and findings the reports hold for them."""

    on: date
    rows: list[RegistrationRow]
    unjudged: list[Any]
    findings: list[Finding]


def judge_learner(events: list[tuple[int, Any]], book: RuleBook, on: date,
                  as_at: datetime | None = None) -> LearnerJudged:
    """The learner's late registrations and findings from their events only (recorded up to
    `as_at`): what the reports over every learner say of them, without reading the others.
    Centre-wide findings (a pattern of late registrations across learners) are not judged
    here: one learner cannot show them."""
    timeline = learner_timeline(events, as_at)
    rows, unjudged = late_registrations([timeline], book, on)
    findings = [found for found in maladministration([timeline], book, on)
                if found.learner is not None]
    return LearnerJudged(on, rows, unjudged, findings)


def learner_timeline(events: list[tuple[int, Any]], as_at: datetime | None = None,
                     ) -> dict[str, Any]:
    """The report timeline of one learner, folded from their events recorded up to `as_at`."""
    timeline = new_timeline(str(events[0][1].originator_id)) if events else new_timeline("")
    for position, event in events:
        if as_at is None or event.timestamp <= as_at:
            apply_event(timeline, position, event)
    return timeline


def replay_steps(events: list[tuple[int, Any]], as_at: datetime | None = None,
                 ) -> list[dict[str, Any]]:
    """The learner's events in recorded order with their state just after each."""
    timeline = new_timeline(str(events[0][1].originator_id)) if events else {}
    steps = []
    for position, event in events:
        if as_at is not None and event.timestamp > as_at:
            continue
        apply_event(timeline, position, event)
        steps.append({"position": position, "event": event_name(event),
                      "recorded": event.timestamp,
                      "occurred_on": getattr(event, "occurred_on", None),
                      "enrolment": getattr(event, "enrolment", None),
                      "state": summarise(timeline)})
    return steps
