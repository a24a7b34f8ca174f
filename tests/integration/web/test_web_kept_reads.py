"""The report pages read from the kept rows a page at a time (`kept_reads.KeptReads`) on
SQLite and PostgreSQL: every page, count and dashboard figure is what judging every learner's
timeline in memory gives (`reads.JudgedReads` over timelines), judged today, on dates months
back (the dated rows), and as recorded by a past moment (the kept history), whatever the
filters, order and page."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.demo import write_demo_files
from ledger.imports.runner import ImportOptions, import_csv
from ledger.rules.rulesets import load_rulebook
from ledger.web import kept_reads
from ledger.web.kept_reads import KeptReads, PageQueries, ledger_reads
from ledger.web.reads import JudgedReads
from ledger.web.shaping import LATE_SORTS, PAGE_SIZE, Options, Reports
from ledger.web.sources import LedgerSource
from tests.integration.integrity.tampering import CTX

ON = date(2026, 11, 30)


class JudgedInMemory(LedgerSource):
    """The live ledger with no kept report rows: every timeline judged in memory."""

    def kept_reports(self, *args: Any) -> None:
        return None


@pytest.fixture
def demo(make_app: Any, tmp_path: Path) -> Any:
    app = make_app()
    export, results = tmp_path / "mis.csv", tmp_path / "events.csv"
    write_demo_files(export, results, 60, 2026, ON)
    import_csv(app, export, ImportOptions(actor="tester"))
    app.middle = datetime.now(UTC)  # type: ignore[attr-defined]
    import_csv(app, results, ImportOptions(actor="tester"))
    return app


def enrol(app: Any, reference: str) -> None:
    """A learner enrolled long enough ago to be overdue on ON."""
    app.add_learner(CTX, "C1", reference, given_name="Ann", family_name="Lee",
                    date_of_birth="2000-01-01", gender="2")
    app.enrol(CTX, reference, "E1", awarding_body="IMI", qualification="603/1234/5",
              title="Diploma", start="2026-01-05", planned_end="2027-01-29")


def both(app: Any) -> tuple[KeptReads, JudgedReads]:
    book = load_rulebook()
    kept = ledger_reads(LedgerSource(app), book)
    assert isinstance(kept, KeptReads)
    folded = JudgedInMemory(app)
    return kept, JudgedReads(folded, book, reports=Reports(folded, book, fresh=0.0))


def same(kept: KeptReads, folded: JudgedReads, options: Options,
         sorts: tuple[str, ...] = tuple(s for s in LATE_SORTS if s != "days_late")) -> None:
    assert kept.summary(options).counts == folded.summary(options).counts
    assert kept.summary(options).basis == folded.summary(options).basis
    for status in (None, "late", "overdue"):
        for sort in sorts:
            for descending in (False, True):
                asked = Options(on=options.on, as_at=options.as_at,
                                awarding_body=options.awarding_body, status=status,
                                sort=sort, descending=descending,
                                start_from=options.start_from, start_to=options.start_to)
                whole = folded.late_rows(asked, paged=False)
                assert kept.late_rows(asked, paged=False).rows == whole.rows, (sort, status)
                for page in (1, 2):
                    asked = Options(**{**asked.__dict__, "page": page})
                    shown, expected = kept.late_rows(asked), folded.late_rows(asked)
                    assert (shown.rows, shown.total, shown.pages) == (
                        expected.rows, expected.total, expected.pages), (sort, status, page)
    for severity in (None, "serious"):
        asked = Options(on=options.on, as_at=options.as_at,
                        awarding_body=options.awarding_body, severity=severity)
        shown, expected = kept.findings(asked), folded.findings(asked)
        assert (shown.rows, shown.total) == (expected.rows, expected.total)


@pytest.mark.parametrize("on", [date(2026, 3, 1), ON, date(2027, 6, 30)])
def test_the_pages_read_from_the_kept_rows_are_those_judged_in_memory(demo: Any,
                                                                      on: date) -> None:
    kept, folded = both(demo)
    for body in (None, "AIM"):
        same(kept, folded, Options(on=on, awarding_body=body))
    same(kept, folded, Options(on=on, start_from=date(2026, 2, 1), start_to=date(2026, 8, 31)),
         sorts=("programme_start",))


def test_a_date_months_back_reads_the_dated_rows_and_gives_the_same_pages(
        demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the report's limit of learners judged in memory, the dated rows are judged first
    (apart from the page) and read with the current rows."""
    monkeypatch.setattr(kept_reads, "IN_MEMORY_LEARNERS", 0)
    kept, folded = both(demo)
    on = date(2026, 3, 1)
    options = Options(on=on)
    kept.summary(options)
    report = kept.open_report(options)
    assert isinstance(report, kept_reads.DatedRowsReport)
    assert kept_reads.uncovered_count(demo, on) == 0  # judged into the dated rows
    same(kept, folded, options)


def test_as_at_a_past_moment_reads_the_kept_history(demo: Any) -> None:
    kept, folded = both(demo)
    kept.summary(Options(on=ON))  # the kept rows judged, their history with them
    for moment in (demo.middle, datetime.now(UTC)):
        same(kept, folded, Options(on=ON, as_at=moment), sorts=("programme_start", "status"))


def test_as_at_with_events_since_the_rows_were_judged_folds_those_learners(demo: Any) -> None:
    """Learners written after the kept rows were judged are folded from their events (the
    report's `override`): read by a pass over its rows rather than in SQL alone."""
    kept, folded = both(demo)
    kept.summary(Options(on=ON))
    enrol(demo, "ZZ2")
    options = Options(on=ON, as_at=datetime.now(UTC) + timedelta(seconds=1))
    report = kept.open_report(options)
    assert not PageQueries(report).in_sql
    same(kept, folded, options, sorts=("programme_start", "learner"))


def test_late_registrations_sort_by_days_late_in_either_direction(demo: Any) -> None:
    """(Sorting by days late was a server error: 0 days compared with a string.)"""
    kept, _ = both(demo)
    for descending in (False, True):
        rows = kept.late_rows(Options(on=ON, sort="days_late", descending=descending),
                              paged=False).rows
        days = [row.days_late for row in rows]
        assert days == sorted(days, reverse=descending) and len(set(days)) > 1
        first = kept.late_rows(Options(on=ON, sort="days_late", descending=descending))
        assert first.rows == rows[:PAGE_SIZE]


def test_a_page_is_read_again_once_the_kept_rows_move_on(demo: Any) -> None:
    """Served from what was read until the rows move on; then read again (the last read
    shown meanwhile, its digest saying what it was judged from)."""
    kept, _ = both(demo)
    options = Options(on=ON)
    before = kept.late_rows(options)
    enrol(demo, "ZZ1")
    assert kept.late_rows(options) == before  # the rows have not moved yet
    kept.keeper.now()
    for _ in range(200):  # read again on a thread of its own; the last read shown meanwhile
        after = kept.late_rows(options)
        if after.basis != before.basis:
            break
        time.sleep(0.05)
    assert after.total == before.total + 1 and after.basis.position > before.basis.position
