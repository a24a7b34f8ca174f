"""The library's ProjectionRunner keeps the report tables current on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregates.learner import Context
from ledger.app import LedgerApp, follow_reports
from ledger.reporting.reports import catch_up, open_view, timelines_as_at
from tests.conftest import fresh_postgres_url

CTX = Context(actor="runner", source="test")


@pytest.mark.postgres
def test_a_projection_runner_follows_the_ledger_and_agrees_with_catch_up() -> None:
    url = fresh_postgres_url()
    app = LedgerApp(url)
    try:
        app.add_learner(CTX, "C1", "L1", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        with follow_reports(url) as runner:
            positions = app.enrol(CTX, "L1", "E1", awarding_body="AIM",
                                  qualification="603/1/1", title="Cert",
                                  start="2026-04-01", planned_end="2026-06-01")
            positions += app.register(CTX, "L1", "E1", submitted="2026-04-20")
            runner.wait(positions[-1], timeout=10)
            followed = list(runner.view.rows())
        assert [f["event"] for f in followed[0]["facts"]] == [
            "Recorded", "Enrolled", "RegistrationSubmitted"]
        assert followed == timelines_as_at(app, datetime(2100, 1, 1, tzinfo=UTC))
        assert catch_up(app, open_view(app)) == 0   # nothing left for a client to do
    finally:
        app.close()
