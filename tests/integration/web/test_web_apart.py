"""The report pages' judgement made in a process of its own (`ledger/web/apart.py`, as
`ledger serve` makes it) on SQLite and PostgreSQL: the same reports as made in the server,
the judgement it replaces let go of before it is loaded, and a failure reported."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from aggregates.errors import LedgerError
from ledger.demo import write_demo_files
from ledger.imports.runner import ImportOptions, import_csv
from ledger.rules.rulesets import load_rulebook
from ledger.web.apart import JudgementFailed, kept_reports_apart
from ledger.web.reads import JudgedReads, selection_key
from ledger.web.shaping import Options, Reports
from ledger.web.sources import LedgerSource
from tests.integration.web.test_web_reads import enrol_learners

ON = date(2026, 11, 30)


def test_a_judgement_made_apart_is_the_one_made_in_the_server(make_app: Any,
                                                              tmp_path: Path) -> None:
    app = make_app()
    export, results = tmp_path / "mis.csv", tmp_path / "events.csv"
    write_demo_files(export, results, 30, 2026, ON)
    for path in (export, results):
        import_csv(app, path, ImportOptions(actor="tester"))
    book = load_rulebook()
    here = LedgerSource(app).kept_reports(book, ON, None, None)
    released: list[bool] = []
    apart = LedgerSource(app, judge_apart=True).kept_reports(
        book, ON, None, None, lambda: released.append(True))
    assert apart == here and released == [True]
    if app.engine.dialect.name == "sqlite":  # (a new PostgreSQL schema has no rows' tables
        assert here is not None and here.rows and here.findings  # until a report makes them)


def test_a_judgement_again_lets_go_of_the_one_it_replaces_before_loading_it(
        make_app: Any) -> None:
    app = make_app()
    enrol_learners(app, 1, 3)
    source = LedgerSource(app, judge_apart=True)
    book = load_rulebook()
    reads = JudgedReads(source, book, reports=Reports(source, book, fresh=0.0, settle=0.0))
    options = Options(on=ON)
    first = reads.reports.judged(options)
    assert reads.late_rows(options).total == 3
    enrol_learners(app, 4, 1)
    key = (options.on, options.as_at, options.awarding_body, options.centre)
    seen: list[Any] = []
    source_kept = source.kept_reports

    def watched(*args: Any) -> Any:
        release = args[-1]

        def releasing() -> None:
            release()
            seen.append((key in reads.reports._cache, [
                kept[0] is first for kept in reads._selected.values()]))
        return source_kept(*args[:-1], releasing)

    source.kept_reports = watched  # type: ignore[method-assign]
    again = reads.reports._judge(key, source.head(), options)
    assert seen == [(False, [])]  # neither the judgement nor its selections were held
    assert again.position > first.position
    assert reads.late_rows(options).total == 4
    assert ("late", *selection_key(options)) in reads._selected


def test_a_judgement_that_fails_apart_is_an_error_not_a_page_of_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "ledger.db"
    with pytest.raises(LedgerError) as raised:
        kept_reports_apart(f"sqlite:///{missing}", load_rulebook(), ON, None, None)
    assert isinstance(raised.value, JudgementFailed) or "ledger" in str(raised.value).lower()
