"""A report --as-at read from the kept rows, with the learners changed since the moment judged
from their timelines as recorded by then, says exactly what folding every event up to the
moment says: rows, findings, counts and the ledger digest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import cli
from ledger.app import LedgerApp
from ledger.reporting import as_at, report_rows
from tests.integration.reporting.test_reports_incremental import (
    BASE,
    enrols,
    record,
    three_learners,
)

REPORTS = ("late-registrations", "maladministration")
moves = st.lists(st.tuples(st.sampled_from(["submit", "withdraw", "assess", "amend"]),
                           st.integers(0, 5), st.integers(-20, 300)), min_size=2, max_size=8)


def report(db_url: str, name: str, moment: datetime, on: date) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--db", db_url, "report", name, "--as-at",
                                      moment.isoformat(), "--on", on.isoformat(),
                                      "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def command(kind: str, learner: int, days: int) -> tuple[Any, ...]:
    when = BASE + timedelta(days=days)
    if kind == "amend":
        return ("amend", learner, f"King{days % 7}")
    if kind == "withdraw":
        return ("withdraw", learner, when)
    return (kind, learner, when)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments=st.lists(enrols, min_size=3, max_size=3), early=moves, late=moves,
       on_days=st.integers(-10, 400))
def test_a_report_as_at_from_the_kept_rows_equals_the_fold_up_to_the_moment(
    make_app: Callable[[], LedgerApp], db_url: str, monkeypatch: pytest.MonkeyPatch,
    enrolments: list[tuple[Any, ...]], early: list[tuple[str, int, int]],
    late: list[tuple[str, int, int]], on_days: int,
) -> None:
    app = make_app()
    prefix = f"A{datetime.now(UTC).timestamp():.6f}".replace(".", "")
    written = three_learners(app, prefix, enrolments)
    for move in early:
        record(app, prefix, command(*move), written)
    runner = CliRunner()  # the reports and kept rows caught up before the moment's changes
    assert runner.invoke(cli, ["--db", db_url, "report", "late-registrations",
                               "--format", "json"]).exit_code == 0
    moment = datetime.now(UTC)
    for move in late:
        record(app, prefix, command(*move), written)
    on = BASE + timedelta(days=on_days)
    calls: list[datetime] = []
    fold = as_at.timelines_as_recorded

    def counted(app: LedgerApp, moment: datetime, *args: Any, **kwargs: Any) -> Any:
        calls.append(moment)
        return fold(app, moment, *args, **kwargs)

    monkeypatch.setattr(as_at, "timelines_as_recorded", counted)  # the CLI imports it lazily
    for name in REPORTS:
        kept = report(db_url, name, moment, on)  # the rows standing at the moment
        assert not calls, "the events were folded"
        with monkeypatch.context() as patched:  # a login that may not write the kept rows
            patched.setattr(report_rows, "may_write_rows", lambda app: False)
            folded = report(db_url, name, moment, on)  # every event up to the moment folded
        assert calls
        calls.clear()
        assert kept == folded
