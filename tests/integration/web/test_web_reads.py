"""The web's one seam for report reads (`reads.JudgedReads`) on SQLite and PostgreSQL: pages
of a selection make up the whole of it, in order, and a kept selection never outlives the
judgement it was taken from."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from ledger.demo import write_demo_files
from ledger.imports.runner import ImportOptions, import_csv
from ledger.rules.rulesets import load_rulebook
from ledger.web.reads import JudgedReads
from ledger.web.shaping import PAGE_SIZE, Options, Reports
from ledger.web.sources import LedgerSource
from tests.integration.integrity.tampering import CTX

ON = date(2026, 11, 30)


def enrol_learners(app: Any, first: int, count: int) -> None:
    for number in range(first, first + count):
        reference = f"L{number:03d}"
        app.add_learner(CTX, "C1", reference, given_name="Ann", family_name="Lee",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, reference, "E1", awarding_body="IMI", qualification="603/1234/5",
                  title="Diploma", start=f"2026-0{1 + number % 8}-01", planned_end="2027-01-29")


def reads_over(app: Any) -> JudgedReads:
    source = LedgerSource(app)
    book = load_rulebook()
    return JudgedReads(source, book, reports=Reports(source, book, fresh=0.0))


def test_the_pages_of_a_selection_are_the_whole_selection_in_its_order(make_app: Any) -> None:
    app = make_app()
    enrol_learners(app, 1, PAGE_SIZE + 7)
    reads = reads_over(app)
    options = Options(on=ON, sort="programme_start", descending=True)
    whole = reads.late_rows(options, paged=False)
    first, second = (reads.late_rows(Options(on=ON, sort="programme_start", descending=True,
                                             page=page)) for page in (1, 2))
    assert whole.total == first.total == PAGE_SIZE + 7 and first.pages == 2
    assert first.rows + second.rows == whole.rows
    starts = [row.programme_start for row in whole.rows]
    assert starts == sorted(starts, reverse=True)


def test_a_kept_selection_is_taken_again_once_the_ledger_is_judged_again(make_app: Any) -> None:
    app = make_app()
    enrol_learners(app, 1, 2)
    reads = reads_over(app)
    options = Options(on=ON)
    assert reads.late_rows(options).total == 2
    enrol_learners(app, 3, 1)
    deadline = time.monotonic() + 30
    while reads.late_rows(options).total == 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # served from the last judgement while the next one is made
    read = reads.late_rows(options)
    assert read.total == 3 and [row.learner for row in read.rows].count("L003") == 1
    assert reads.summary(options).counts["statuses"].total() == 3


class JudgedInMemory(LedgerSource):
    """The live ledger with no kept report rows: the pages judge its timelines in memory."""

    def kept_reports(self, *args: Any) -> None:
        return None


def test_the_pages_read_from_the_kept_rows_what_judging_the_timelines_gives(
    make_app: Any, tmp_path: Path,
) -> None:
    """The dashboard, late-registration and findings pages read the kept report rows (the
    way `ledger report` reads them) and show exactly what judging every timeline shows."""
    app = make_app()
    export, results = tmp_path / "mis.csv", tmp_path / "events.csv"
    write_demo_files(export, results, 40, 2026, ON)
    for path in (export, results):
        import_csv(app, path, ImportOptions(actor="tester"))
    book = load_rulebook()
    kept = JudgedReads(LedgerSource(app), book)
    folded_source = JudgedInMemory(app)
    folded = JudgedReads(folded_source, book, reports=Reports(folded_source, book))
    for on in (date(2026, 3, 1), ON, date(2027, 6, 30)):
        for body in (None, "AIM"):
            options = Options(on=on, awarding_body=body, sort="deadline")
            assert kept.summary(options).counts == folded.summary(options).counts
            assert kept.summary(options).basis == folded.summary(options).basis
            assert kept.late_rows(options, paged=False).rows == folded.late_rows(
                options, paged=False).rows
            assert kept.findings(options).rows == folded.findings(options).rows
    shown = kept.reports.source.kept_reports(book, ON, None, None)
    assert shown is not None and shown.rows and shown.findings  # the kept rows were read


def test_a_judgement_is_shown_with_its_counts_and_first_selections_already_made(
        make_app: Any) -> None:
    """No page pays for a judgement made in the background: its dashboard counts and its
    unfiltered late registrations and findings are made before any page sees it."""
    from ledger.web.reads import selection_key

    app = make_app()
    enrol_learners(app, 1, 3)
    reads = reads_over(app)
    options = Options(on=ON, awarding_body="IMI")
    judged = reads.reports.judged(options)
    assert judged._summary is not None
    for kind in ("late", "findings"):
        kept = reads._selected[(kind, *selection_key(options))]
        assert kept[0] is judged
    assert reads.late_rows(options).rows == [row for row in judged.rows]
