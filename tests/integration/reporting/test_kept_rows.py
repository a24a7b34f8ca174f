"""The reports read from the kept rows equal the reports judged from the timelines, exactly."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.errors import ConcurrencyConflict
from cli.main import cli
from cli.output import csv_line_cells
from cli.report import FINDING_CSV_COLUMNS, finding_csv_lines
from ledger.app import LedgerApp
from ledger.privacy.roles import grant
from ledger.reporting.report_queries import KeptReport, finding_row
from ledger.reporting.report_rows import (
    may_write_rows,
    refresh_rows,
    rows_state,
    rulebook_fingerprint,
)
from ledger.reporting.reports import current_timelines
from ledger.rules.rulesets import load_rulebook
from projections.late_registrations import late_registrations
from projections.maladministration import maladministration
from tests.conftest import TEST_SCHEMA, fresh_postgres_url
from tests.integration.reporting.test_reports_incremental import (
    BASE,
    CTX,
    caught_up,
    enrols,
    played,
    steps,
)

ONS = st.integers(-30, 420).map(lambda n: BASE + timedelta(days=n))
BODIES = st.sampled_from([None, "AIM", "IMI", "GATEWAY"])


def assert_same_reports(app: LedgerApp, on: date, body: str | None,
                        override: dict[str, Any] | None = None) -> None:
    book = load_rulebook()
    timelines, _ = current_timelines(app)
    if override:
        timelines = [override.get(t["learner_id"], t) for t in timelines]
        timelines = [t for t in timelines if t is not None]
    kept = KeptReport(app, book, on, body, override=override)
    rows, unjudged = late_registrations(timelines, book, on, body)
    assert list(kept.registrations()) == rows
    assert list(kept.registrations(("late", "at-risk"), limit=2)) == [
        row for row in rows if row.status in ("late", "at-risk")][:2]
    assert kept.status_counts() == Counter(row.status for row in rows)
    assert kept.body_status_counts() == Counter((row.awarding_body, row.status) for row in rows)
    assert kept.unjudged() == unjudged
    expected = maladministration(timelines, book, on, body)
    found = list(kept.findings())
    assert found == expected
    assert kept.severity_counts() == Counter(f.severity for f in expected)
    assert list(kept.finding_rows()) == [finding_row(f) for f in expected]
    stamps = SimpleNamespace(on_text=on.isoformat(), digest_text="1:ab")
    assert list(finding_csv_lines(kept.finding_records(), stamps)) == [  # type: ignore[arg-type]
        csv_line_cells({**finding_row(f), "judged_on": on, "ledger_digest": "1:ab"},
                       FINDING_CSV_COLUMNS) for f in expected]
    assert [f.citation for f in found] == [f.citation for f in expected]


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments=st.lists(enrols, min_size=3, max_size=3), steps=steps,
       ons=st.lists(ONS, min_size=3, max_size=3), body=BODIES)
def test_kept_rows_give_the_reports_of_the_timelines_on_any_date(
    make_app: Callable[[], LedgerApp], enrolments: list[tuple[Any, ...]],
    steps: list[tuple[str, Any]], ons: list[date], body: str | None,
) -> None:
    app = played(make_app, "K", enrolments, steps, lambda app, _: caught_up(app))
    caught_up(app)
    for on in ons:
        assert_same_reports(app, on, body)


def test_learners_given_by_the_caller_are_judged_from_their_timelines(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    for n, start in enumerate(("2026-04-01", "2026-05-01")):
        app.add_learner(CTX, "C1", f"L{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, f"L{n}", "E1", awarding_body="IMI", qualification="603/1/1",
                  title="Cert", start=start, planned_end="2026-09-01")
    timelines, _ = current_timelines(app)
    refresh_rows(app, load_rulebook())
    first, second = sorted(timelines, key=lambda t: t["reference"])
    earlier = {**first, "facts": first["facts"][:1]}  # as if not yet enrolled
    on = date(2026, 11, 1)
    assert_same_reports(app, on, None, {first["learner_id"]: earlier})
    assert_same_reports(app, on, None, {second["learner_id"]: None})
    rows = list(KeptReport(app, load_rulebook(), on,
                           override={second["learner_id"]: None}).registrations())
    assert [row.learner for row in rows] == ["L0"]


def test_a_learner_caught_up_after_the_rows_were_judged_stops_the_report(
    make_app: Callable[[], LedgerApp],
) -> None:
    """A learner judged from its timeline (a fact after --on) whose timeline another process
    caught up after the rows were judged would be judged at a later position than the digest
    the report prints: the report refuses to mix them, and asks to be run again."""
    app = make_app()
    app.add_learner(CTX, "C1", "L0", given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    app.enrol(CTX, "L0", "E1", awarding_body="IMI", qualification="603/1/1", title="Cert",
              start="2026-04-01", planned_end="2026-09-01")
    current_timelines(app)
    refresh_rows(app, load_rulebook())
    on = date(2026, 3, 1)  # before the enrolment: the learner is judged from its timeline
    assert list(KeptReport(app, load_rulebook(), on).registrations()) == []
    app.register(CTX, "L0", "E1", submitted=date(2026, 4, 2))
    current_timelines(app)  # the timelines move on; the kept rows are not judged again
    with pytest.raises(ConcurrencyConflict, match="run it again"):
        list(KeptReport(app, load_rulebook(), on).registrations())
    refresh_rows(app, load_rulebook())
    assert list(KeptReport(app, load_rulebook(), on).registrations()) == []


def test_another_rule_book_judges_every_learner_again(
    make_app: Callable[[], LedgerApp], tmp_path: Path,
) -> None:
    app = make_app()
    app.add_learner(CTX, "C1", "L1", given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    app.enrol(CTX, "L1", "E1", awarding_body="IMI", qualification="603/1/1", title="Cert",
              start="2026-04-01", planned_end="2026-09-01")
    current_timelines(app)
    assert refresh_rows(app, load_rulebook()) == 1
    assert refresh_rows(app, load_rulebook()) == 0  # nothing changed
    shipped = Path(__file__).resolve().parents[3] / "ledger" / "policies" / "imi.toml"
    (tmp_path / "imi.toml").write_text(shipped.read_text().replace("days = 90", "days = 30", 1))
    other = load_rulebook(tmp_path)
    before = KeptReport(app, load_rulebook(), date(2026, 11, 1))
    (row,) = before.registrations()
    assert row.deadline == date(2026, 6, 30)
    assert refresh_rows(app, other) == 1
    (row,) = KeptReport(app, other, date(2026, 11, 1)).registrations()
    assert row.deadline == date(2026, 5, 1)
    assert refresh_rows(app, load_rulebook(nation="Scotland")) == 1
    with app.engine.connect() as connection:
        state = rows_state(connection)
    assert state is not None and state.position > 0



@pytest.mark.postgres
@pytest.mark.parametrize("rows_made", [True, False], ids=["rows-made", "rows-missing"])
def test_an_officer_login_reads_the_kept_rows_or_judges_in_memory(rows_made: bool) -> None:
    app = LedgerApp(fresh_postgres_url())
    try:
        app.add_learner(CTX, "C1", "L1", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, "L1", "E1", awarding_body="IMI", qualification="603/1/1",
                  title="Cert", start="2026-04-01", planned_end="2026-09-01")
        current_timelines(app)  # the owner caught the timelines up
        if rows_made:
            refresh_rows(app, load_rulebook())
        officer = f"{TEST_SCHEMA}_kept_officer"
        grant(app.engine, "officer", officer)  # granted on the tables there now
        args = ["report", "late-registrations", "--on", "2026-11-01", "--format", "json"]
        owner = CliRunner().invoke(cli, ["--db", app.url, *args])
        as_officer = CliRunner().invoke(
            cli, ["--db", app.url.replace("://postgres@", f"://{officer}@"), *args])
        assert as_officer.exit_code == 0, as_officer.output
        assert json.loads(as_officer.stdout)["rows"] == json.loads(owner.stdout)["rows"]
        assert may_write_rows(app)  # the owner
    finally:
        app.close()
        app.engine.dispose()


def test_the_same_rules_from_another_folder_judge_the_same(tmp_path: Path) -> None:
    """The fingerprint names the rules, not where they are installed: a new virtualenv or
    checkout does not judge every learner again (another rule judges again, as above)."""
    shipped = Path(__file__).resolve().parents[3] / "ledger" / "policies" / "imi.toml"
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        text = shipped.read_text()
        (tmp_path / name / "imi.toml").write_text(
            text.replace("days = 90", "days = 30", 1) if name == "c" else text)
    first, second, other = (rulebook_fingerprint(load_rulebook(tmp_path / name))
                            for name in ("a", "b", "c"))
    assert first == second != other
