"""`ledger verify --reports`: the report tables checked against the events, and the insider's
edits of them that it finds (an edited kept row, timeline or moment; a row forged or deleted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from cli.main import cli
from ledger.app import LedgerApp
from ledger.reporting.reports import current_timelines
from ledger.reporting.table_check import TableCheck, check_report_tables
from ledger.rules.rulesets import load_rulebook
from tests.integration.reporting.test_reports_incremental import (
    CTX,
    caught_up,
    enrols,
    played,
    steps,
)


def late_learners(app: LedgerApp) -> None:
    """Two learners: L1 registered late (AIM: 60 working days) and assessed before
    registering (a finding), L2 withdrawn unregistered (IMI)."""
    for ref, body in (("L1", "AIM"), ("L2", "IMI")):
        app.add_learner(CTX, "C1", ref, given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, ref, "E1", awarding_body=body, qualification="603/1/1",
                  title="Cert", start="2026-04-06", planned_end="2026-09-01")
    app.start_assessment(CTX, "L1", "E1", started=date(2026, 4, 20))
    app.register(CTX, "L1", "E1", submitted=date(2026, 8, 3))
    app.withdraw(CTX, "L2", "E1", left="2026-05-01", reason="left")
    caught_up(app)


def checked(app: LedgerApp) -> TableCheck:
    return check_report_tables(app, load_rulebook())


def edit(app: LedgerApp, sql: str) -> None:
    with app.engine.begin() as connection:
        assert connection.execute(text(sql)).rowcount >= 1


def test_untouched_tables_match_the_events(make_app: Callable[[], LedgerApp]) -> None:
    app = make_app()
    late_learners(app)
    check = checked(app)
    assert check.ok and (check.timelines, check.judged, check.not_yet_judged) == (2, 2, 0)


@pytest.mark.parametrize(("sql", "table"), [
    ("UPDATE ledger_report_registrations SET submitted = deadline WHERE learner = 'L1'",
     "ledger_report_registrations"),
    ("DELETE FROM ledger_report_findings WHERE learner = 'L1'", "ledger_report_findings"),
    ("UPDATE ledger_report_learners SET stable_from = 0 WHERE reference = 'L2'",
     "ledger_report_learners"),
    ("UPDATE ledger_report_timelines SET timeline = replace(timeline, '2026-08-03', "
     "'2026-05-01') WHERE reference = 'L1'", "ledger_report_timelines"),
    ("UPDATE ledger_report_past_registrations SET deadline = deadline + 1 "
     "WHERE learner = 'L1'", "ledger_report_past_registrations"),
    ("UPDATE ledger_report_timelines SET position = position + 1 WHERE reference = 'L2'",
     "ledger_report_timelines"),
])
def test_an_edited_report_table_is_named_with_its_learner(
    make_app: Callable[[], LedgerApp], sql: str, table: str,
) -> None:
    app = make_app()
    late_learners(app)
    edit(app, sql)
    check = checked(app)
    assert not check.ok
    assert [(m.reference, m.table) for m in check.shown] == [(
        "L1" if "L1" in sql else "L2", table)]


def test_a_deleted_timeline_and_a_forged_learner_are_found(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    late_learners(app)
    edit(app, "DELETE FROM ledger_report_timelines WHERE reference = 'L2'")
    edit(app, "INSERT INTO ledger_report_learners (learner_id, centre, reference, position, "
              "stable_from, recorded_from) VALUES ('00000000-0000-0000-0000-000000000001', 'C1', "
              "'L9', 1, 0, 1)")
    check = checked(app)
    assert sorted((m.reference, m.table) for m in check.shown) == [
        ("L2", "ledger_report_timelines"), ("L9", "ledger_report_learners")]


def test_an_edited_moment_is_found(make_app: Callable[[], LedgerApp]) -> None:
    app = make_app()
    late_learners(app)
    edit(app, "UPDATE ledger_report_moments SET latest = latest - 1")
    check = checked(app)
    assert [m.table for m in check.shown] == ["ledger_report_moments"]


def test_a_learner_changed_since_the_rows_were_judged_is_not_yet_judged(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    late_learners(app)
    app.register(CTX, "L2", "E1", submitted=date(2026, 4, 20))
    current_timelines(app)  # the timelines move on; the rows wait for the next report
    check = checked(app)
    assert check.ok and (check.judged, check.not_yet_judged) == (1, 1)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments=st.lists(enrols, min_size=3, max_size=3), steps=steps)
def test_tables_kept_up_incrementally_match_the_events_folded_at_once(
    make_app: Callable[[], LedgerApp], enrolments: list[tuple[Any, ...]],
    steps: list[tuple[str, Any]],
) -> None:
    """Whatever was recorded between catch-ups, the tables equal a fold of every event."""
    app = played(make_app, "V", enrolments, steps, lambda app, _: caught_up(app))
    caught_up(app)
    check = checked(app)
    assert check.ok, check.shown
    assert check.not_yet_judged == 0


def test_a_ledger_no_report_has_read_has_nothing_to_compare(
    make_app: Callable[[], LedgerApp], db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    app.add_learner(CTX, "C1", "L1", given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    monkeypatch.setenv("LEDGER_DB", db_url)
    result = CliRunner().invoke(cli, ["verify", "--reports"])
    assert result.exit_code == 0, result.output
    assert "Report tables: none built yet" in result.output


def test_verify_reports_exits_1_naming_the_learner(
    make_app: Callable[[], LedgerApp], db_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    late_learners(app)
    runner = CliRunner()
    monkeypatch.setenv("LEDGER_DB", db_url)
    good = runner.invoke(cli, ["verify", "--reports"])
    assert good.exit_code == 0, good.output
    assert "Kept report rows: 2 learners' rows match their judgement." in good.output
    edit(app, "UPDATE ledger_report_registrations SET submitted = deadline "
              "WHERE learner = 'L1'")
    bad = runner.invoke(cli, ["verify", "--reports"])
    assert bad.exit_code == 1
    assert "Error: the report tables differ from the events in 1 place: L1 (registrations)" in (
        bad.output)
