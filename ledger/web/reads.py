"""The one seam between the web pages and the reports they show.

Every report read of a page goes through `ReportReads`: the dashboard's counts (`summary`),
a page of late registrations (`late_rows`) and a page of findings (`findings`), with the
filters, sort order and page passed down, so that an implementation that reads kept report
rows with SQL (filtering, sorting and paging in the database) replaces `JudgedReads` in
`report_reads` and nowhere else. `JudgedReads` is today's: it reads a live ledger's reports
from the kept report rows (as `ledger report` does; a bundle's, or --as-at, from its timelines
judged in memory), then filters, sorts and pages them in the server, and keeps the last few
judgements (never the timelines).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

from ledger.rules.rulesets import RuleBook
from ledger.web.shaping import (
    PAGE_SIZE,
    Judged,
    Options,
    Reports,
    filter_findings,
    filter_rows,
    page_of,
)
from ledger.web.sources import Source
from projections.late_registrations import RegistrationRow
from projections.maladministration import Finding

Row = TypeVar("Row")
# judgements kept (each holds every row and finding of its selection: at 100,000 learners
# tens of MB each); the timelines they were judged from are never kept
KEPT_JUDGEMENTS = 4


@dataclass(frozen=True)
class Basis:
    """What a read was judged from and on: the ledger digest and position, the judged-on
    date and as-at moment, the centres seen, and how many enrolments no rule set judges."""

    digest: str
    position: int
    on: date
    as_at: datetime | None
    centres: tuple[str, ...]
    unjudged: int


@dataclass(frozen=True)
class RowsPage(Generic[Row]):
    """One page of rows (or all of them, unpaged), how many matched, and how many pages."""

    basis: Basis
    rows: list[Row]
    total: int
    pages: int


@dataclass(frozen=True)
class Summary:
    """The dashboard's counts (`shaping.dashboard`'s shape) and what they were judged from."""

    basis: Basis
    counts: dict[str, Any]


class ReportReads(Protocol):
    """Every report read of the web, with its filters, sorting and paging passed down."""

    def summary(self, options: Options) -> Summary: ...

    def late_rows(self, options: Options, paged: bool = True) -> RowsPage[RegistrationRow]:
        """The late-registration rows the options select, sorted as asked; one page of
        them (`options.page`, PAGE_SIZE rows), or every one when not `paged`."""
        ...

    def findings(self, options: Options) -> RowsPage[Finding]:
        """One page of the findings of the severity asked for, most severe first."""
        ...


class JudgedReads:
    """Reads answered by judging the source's timelines in the server (`shaping.Reports`):
    the judgement is kept per judged-on date, as-at, awarding body and centre, and the last
    few filtered and sorted selections of its rows (lists of the same row objects), so that
    turning the pages of one selection sorts it once."""

    def __init__(self, source: Source, book: RuleBook, selections: int = 8,
                 reports: Reports | None = None) -> None:
        self.reports = reports or Reports(source, book, keep=KEPT_JUDGEMENTS)
        self.selections = selections
        self._selected: OrderedDict[tuple[Any, ...], tuple[Judged, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self.reports.prepare = self._prepare
        self.reports.released = self._released

    def _released(self, judged: Judged) -> None:
        """The selections of a judgement let go of (so that none of it stays held)."""
        with self._lock:
            for key in [key for key, kept in self._selected.items() if kept[0] is judged]:
                del self._selected[key]

    def _prepare(self, judged: Judged, asked: Options) -> None:
        """A new judgement's late registrations and findings, selected as they are first
        shown (no filter, the default order), before any page reads it."""
        options = Options(on=asked.on, as_at=asked.as_at, awarding_body=asked.awarding_body,
                          centre=asked.centre)
        self._selection(("late", *selection_key(options)), judged,
                        lambda: filter_rows(judged.rows, options))
        self._selection(("findings", *selection_key(options)), judged,
                        lambda: filter_findings(judged.findings, options))

    def summary(self, options: Options) -> Summary:
        judged = self.reports.judged(options)
        return Summary(basis_of(judged), judged.summary())

    def late_rows(self, options: Options, paged: bool = True) -> RowsPage[RegistrationRow]:
        judged = self.reports.judged(options)
        rows = self._selection(("late", *selection_key(options)), judged,
                               lambda: filter_rows(judged.rows, options))
        return paged_rows(basis_of(judged), rows, options.page if paged else None)

    def findings(self, options: Options) -> RowsPage[Finding]:
        judged = self.reports.judged(options)
        found = self._selection(("findings", *selection_key(options)), judged,
                                lambda: filter_findings(judged.findings, options))
        return paged_rows(basis_of(judged), found, options.page)

    def _selection(self, key: tuple[Any, ...], judged: Judged,
                   select: Callable[[], list[Any]]) -> list[Any]:
        """The rows `select` picks from this judgement, kept until it is judged again."""
        with self._lock:
            kept = self._selected.get(key)
            if kept is not None and kept[0] is judged:
                self._selected.move_to_end(key)
                return kept[1]
        rows = select()
        with self._lock:
            self._selected[key] = (judged, rows)
            self._selected.move_to_end(key)
            while len(self._selected) > self.selections:
                self._selected.popitem(last=False)
        return rows


def selection_key(options: Options) -> tuple[Any, ...]:
    """Everything in the options but the page: what selects and orders the rows."""
    return (options.on, options.as_at, options.awarding_body, options.centre, options.status,
            options.severity, options.start_from, options.start_to, options.sort,
            options.descending)


def basis_of(judged: Judged) -> Basis:
    """What a judgement was judged from and on, as the pages print it."""
    return Basis(judged.digest, judged.position, judged.on, judged.as_at,
                 tuple(judged.centres), len(judged.unjudged))


def paged_rows(basis: Basis, rows: list[Row], page: int | None) -> RowsPage[Row]:
    """The rows of one page (all of them when `page` is None)."""
    if page is None:
        return RowsPage(basis, rows, len(rows), 1)
    shown, pages = page_of(rows, page, PAGE_SIZE)
    return RowsPage(basis, shown, len(rows), pages)


def report_reads(source: Source, book: RuleBook) -> ReportReads:
    """The reads the web app uses over a source: the one place to choose another kind. A
    live ledger's pages read its kept report rows a page at a time (`kept_reads.KeptReads`);
    a bundle's, or a login's that may not keep those rows, are judged in memory."""
    from ledger.web.kept_reads import ledger_reads
    from ledger.web.sources import LedgerSource

    if isinstance(source, LedgerSource):
        kept = ledger_reads(source, book)
        if kept is not None:
            return kept
    return JudgedReads(source, book)
