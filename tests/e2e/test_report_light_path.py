"""Reports read current kept rows without the application, and never trust stale ones.

Each report here that must be fresh runs as its own `ledger` process, as a user runs it; the
events it must see are recorded by another process in between.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.report import TABLE_ROWS
from ledger.app import LedgerApp
from ledger.reporting.report_queries import KeptReport
from ledger.reporting.report_rows import refresh_rows
from ledger.reporting.reports import current_timelines
from ledger.rules.rulesets import load_rulebook
from tests.integration.reporting.test_reports_incremental import CTX

ROOT = Path(__file__).resolve().parents[2]
ON = "2026-07-01"
ROW = re.compile(r"^L\d+ ", re.MULTILINE)  # a table's row
HEAVY = ("sqlalchemy", "eventsourcing_sqlalchemy", "ledger.app",
         "aggregates.learner", "eventsourcing.domain")  # the aggregate: only to fold events
LOADED = ("import atexit, sys\n"
          "atexit.register(lambda: print('MODULES', *sys.modules, file=sys.stderr))\n")


def ledger_process(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`ledger --db URL ARGS` as its own process; stderr ends with the modules it loaded."""
    code = (f"{LOADED}sys.argv = ['ledger', *{['--db', url, '--actor', 'other', *args]!r}]\n"
            "from cli.main import main\nmain()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=os.environ.copy(), timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def modules(result: subprocess.CompletedProcess[str]) -> set[str]:
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("MODULES ")]
    return set(line.split()[1:])


def late_rows(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """learner/enrolment: (submitted, status) of a CSV report's rows."""
    return {f"{row['learner']}/{row['enrolment']}": (row["submitted"], row["status"])
            for row in csv.DictReader(io.StringIO(result.stdout))}


def in_process(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", url, "--actor", "officer", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def seed(url: str, count: int = 2) -> None:
    """Learners L1.. at C1, each enrolled with AIM on E1, and the kept rows judged (the
    first report on a new PostgreSQL ledger judges in memory: the kept rows' tables are made
    once the timelines' are)."""
    for n in range(1, count + 1):
        in_process(url, "learner", "add", f"L{n}", "--centre", "C1", "--given-name", "Ada",
                   "--family-name", "Lovelace", "--dob", "2000-01-01", "--gender", "2")
        in_process(url, "enrol", f"L{n}", "E1", "--awarding-body", "AIM", "--qualification",
                   "603/1/1", "--title", "Certificate", "--start", "2026-04-01",
                   "--planned-end", "2026-09-15")
    for _ in range(2):
        in_process(url, "report", "late-registrations", "--on", ON, "--format", "csv")


def test_current_kept_rows_are_read_without_the_application(db_url: str) -> None:
    seed(db_url)
    judged = in_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    light = ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    assert not modules(light) & set(HEAVY)
    assert light.stdout == judged
    for fmt in ("json", "table"):
        for report in ("late-registrations", "maladministration"):
            again = ledger_process(db_url, "report", report, "--on", ON, "--format", fmt)
            assert not modules(again) & set(HEAVY)
            assert again.stdout == in_process(db_url, "report", report, "--on", ON,
                                              "--format", fmt)


def test_an_event_another_process_records_is_in_the_next_report(db_url: str) -> None:
    seed(db_url)
    first = ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    assert late_rows(first) == {"L1/E1": ("", "overdue"), "L2/E1": ("", "overdue")}
    ledger_process(db_url, "register", "L1", "E1", "--submitted", "2026-05-05")
    after = ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    assert late_rows(after)["L1/E1"] == ("2026-05-05", "on-time")
    assert "ledger.app" in modules(after)  # the rows were stale: judged again first
    again = ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    assert again.stdout == after.stdout and not modules(again) & set(HEAVY)


def test_timelines_caught_up_but_rows_not_judged_are_not_trusted(
    db_url: str, make_app: Callable[[], LedgerApp],
) -> None:
    """Another process caught the timelines up (a web page's read, an import killed before
    its reports phase) and recorded nothing more: the rows' position is behind the
    timelines', so the report judges again."""
    seed(db_url)
    ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    app = make_app()
    app.register(CTX, "L2", "E1", submitted=date(2026, 5, 6))
    current_timelines(app)  # the timelines move on; the kept rows stay as they were
    after = ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    assert late_rows(after)["L2/E1"] == ("2026-05-06", "on-time")


def test_another_rule_book_is_not_read_from_rows_judged_by_this_one(db_url: str) -> None:
    seed(db_url)
    ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    other = ledger_process(db_url, "report", "late-registrations", "--on", ON, "--format",
                           "csv", "--nation", "Scotland")
    assert "ledger.app" in modules(other)  # judged again by the other rule book first


def test_a_report_reads_its_counts_rows_and_not_judged_list_in_one_snapshot(
    make_app: Callable[[], LedgerApp],
) -> None:
    """Another process records and judges a learner between the report's reads: the report
    sees none of it, so its summary counts the rows it lists."""
    app, other = make_app(), make_app()
    book, on = load_rulebook(), date(2026, 7, 1)
    for n, body in ((1, "AIM"), (2, "NOBODY")):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, f"L{n}", "E1", awarding_body=body, qualification="603/1/1",
                  title="Cert", start="2026-04-01", planned_end="2026-09-01")
    current_timelines(app)
    refresh_rows(app, book)
    report = KeptReport(app, book, on)
    with report.snapshot():
        counts = report.status_counts()
        for n, body in ((3, "AIM"), (4, "NOBODY")):
            other.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                              date_of_birth="2000-01-01", gender="2")
            other.enrol(CTX, f"L{n}", "E1", awarding_body=body, qualification="603/1/1",
                        title="Cert", start="2026-04-01", planned_end="2026-09-01")
        current_timelines(other)
        refresh_rows(other, book)
        rows = list(report.registrations())
        unjudged = report.unjudged()
        findings = list(report.findings())
        position = report.position()
    assert counts == Counter(row.status for row in rows) == Counter(overdue=1)
    assert [u.learner for u in unjudged] == ["L2"]
    assert {f.learner for f in findings} <= {"L1", "L2", None}
    assert position < KeptReport(app, book, on).position()  # the next report sees them
    assert [row.learner for row in KeptReport(app, book, on).registrations()] == ["L1", "L3"]


def test_the_not_judged_list_is_in_centre_order(make_app: Callable[[], LedgerApp]) -> None:
    """The same reference at several centres: the list is ordered by centre first, as the
    report's rows are, not left in the order the database happens to return."""
    app = make_app()
    centres = [f"C{n}" for n in range(1, 7)]
    for centre in centres:
        app.add_learner(CTX, centre, "L1", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, "L1", "E1", awarding_body="NOBODY", qualification="603/1/1",
                  title="Cert", start="2026-04-01", planned_end="2026-09-01", centre=centre)
    current_timelines(app)
    refresh_rows(app, load_rulebook())
    unjudged = KeptReport(app, load_rulebook(), date(2026, 7, 1)).unjudged()
    assert [u.centre for u in unjudged] == centres


def test_a_table_shows_the_first_rows_and_how_to_see_them_all(db_url: str) -> None:
    seed(db_url, count=TABLE_ROWS + 2)
    total = TABLE_ROWS + 2
    table = in_process(db_url, "report", "late-registrations", "--on", ON)
    assert table.splitlines()[0] == f"{total} enrolments: {total} overdue"
    assert len(ROW.findall(table)) == TABLE_ROWS
    assert f"Showing {TABLE_ROWS} of {total} rows" in table
    every = in_process(db_url, "report", "late-registrations", "--on", ON, "--limit", "0")
    assert len(ROW.findall(every)) == total
    assert "Showing" not in every
    rows = in_process(db_url, "report", "late-registrations", "--on", ON, "--format", "csv")
    assert len(rows.splitlines()) == total + 1  # CSV and JSON: every row unless --limit


def test_the_maladministration_table_reads_the_findings_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(db_url, count=3)
    calls: list[Any] = []
    findings = KeptReport.findings

    def counted(self: KeptReport) -> Any:
        calls.append(self)
        return findings(self)

    monkeypatch.setattr(KeptReport, "findings", counted)
    table = in_process(db_url, "report", "maladministration", "--on", ON)
    assert table.splitlines()[0] == "4 findings: 1 critical, 3 major"
    assert len(calls) == 1
