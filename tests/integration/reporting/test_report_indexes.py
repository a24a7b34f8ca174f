"""The kept registrations are read in the reports' orders from an index that holds every
column the reports read, and a ledger made before those indexes gets them at its next refresh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import inspect, text

from ledger.app import LedgerApp
from ledger.reporting.report_queries import LATE, KeptReport
from ledger.reporting.report_rows import SUPERSEDED_INDEXES, refresh_rows, registrations_table
from ledger.reporting.reports import current_timelines
from ledger.rules.rulesets import load_rulebook
from tests.integration.reporting.test_reports_incremental import CTX

OLDER_INDEXES = {  # as the version before them made them
    "ix_ledger_report_registrations_deadline": "centre, awarding_body, deadline, learner, "
                                               "enrolment",
    "ix_ledger_report_registrations_learner": "centre, awarding_body, learner, enrolment",
}


def judged(app: LedgerApp, reference: str) -> None:
    app.add_learner(CTX, "C1", reference, given_name="Ada", family_name="Lovelace",
                    date_of_birth="2000-01-01", gender="2")
    app.enrol(CTX, reference, "E1", awarding_body="IMI", qualification="603/1/1",
              title="Cert", start="2026-04-01", planned_end="2026-09-01")
    current_timelines(app)
    refresh_rows(app, load_rulebook())


def index_names(app: LedgerApp) -> set[str]:
    return {index["name"] for index in inspect(app.engine).get_indexes(registrations_table.name)}


def test_the_reports_read_the_registrations_from_an_index_alone(tmp_path: Path) -> None:
    app = LedgerApp(f"sqlite:///{tmp_path}/ledger.db")
    try:
        judged(app, "L1")
        report = KeptReport(app, load_rulebook(), date(2026, 11, 1))
        with app.engine.connect() as connection:
            for wanted, by in ((None, "deadline"), (LATE, "learner"), (LATE, "deadline")):
                query, params = report._kept_query(wanted, by)
                plan = " ".join(str(row) for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {query}", tuple(params)))
                assert "USING COVERING INDEX" in plan, (by, plan)
                assert "TEMP B-TREE" not in plan, (by, plan)  # no sort: the index's order
    finally:
        app.close()


def test_a_ledger_with_the_older_indexes_gets_the_new_ones_at_its_next_refresh(
        make_app: Callable[[], LedgerApp]) -> None:
    app = make_app()
    judged(app, "L1")
    new = index_names(app) - {name for name in index_names(app) if "autoindex" in name}
    with app.engine.begin() as connection:  # as a ledger made by the version before
        for name in new:
            if name.endswith("_rows"):
                connection.execute(text(f"DROP INDEX {name}"))
        for name, columns in OLDER_INDEXES.items():
            connection.execute(text(f"CREATE INDEX {name} ON {registrations_table.name} "
                                    f"({columns})"))
    judged(make_app(), "L2")
    names = index_names(app)
    assert {index.name for index in registrations_table.indexes} <= names
    assert not names & set(SUPERSEDED_INDEXES)
