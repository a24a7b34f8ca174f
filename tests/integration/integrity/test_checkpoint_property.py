"""Property: for any ledger and any checkpoint of it, removing or changing any suffix of the
events the checkpoint covers, with or without their chain rows, makes `ledger verify` fail.

(A suffix that starts after the last checkpoint, removed with its chain rows, cannot be told
from a ledger that never had it: that is what the next checkpoint, automatic every N events,
is for; docs/integrity.md says so.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from cli.main import cli
from ledger.app import LedgerApp
from ledger.integrity.checkpoints import append_entries, sign_checkpoint
from ledger.integrity.signing import new_signing_key
from ledger.storage.persistence import EVENTS_TABLE
from tests.conftest import fresh_postgres_url
from tests.integration.integrity import tampering as t

KEY = new_signing_key()
TAMPERING = {
    "events removed": lambda app, c, s: t.truncate_events_after(app, c, s - 1),
    "events and chain rows removed": lambda app, c, s: t.truncate_both_after(app, c, s - 1),
    "events changed": lambda app, c, s: _edit_from(app, c, s),
    "events changed, chain rewritten": lambda app, c, s: (_edit_from(app, c, s),
                                                           t.rechain(app, c)),
}


def _edit_from(app, connection, start: int) -> None:
    last = connection.execute(text(f"SELECT max(id) FROM {EVENTS_TABLE}")).scalar() or 0
    for position in range(start, last + 1):
        t.edit_state_byte(app, connection, position)


def record(app: LedgerApp, learners: int, enrolments: list[int], first: int) -> None:
    for number in range(first, first + learners):
        app.add_learner(t.CTX, "C1", f"L{number}", given_name="Ann", family_name="Lee",
                        date_of_birth="2000-01-01", gender="2")
    for index, number in enumerate(enrolments):
        if number < first + learners:
            app.enrol(t.CTX, f"L{number}", f"E{index}-{first}", awarding_body="CG",
                      qualification="600/1234/5", title="Plumbing", start="2025-09-01",
                      planned_end="2026-07-01")


def verify_exit_code(url: str, log: Path) -> int:
    result = CliRunner().invoke(cli, ["--db", url, "verify", "--allow-empty",
                                      "--checkpoint-log", str(log)])
    return result.exit_code


ledgers = st.fixed_dictionaries({
    "before": st.integers(1, 3),
    "before_enrolments": st.lists(st.integers(1, 3), max_size=2),
    "after": st.integers(0, 2),
    "tampering": st.sampled_from(sorted(TAMPERING)),
    "data": st.data(),
})


def check_property(url: str, log: Path, case: dict) -> None:
    app = LedgerApp(url)
    try:
        record(app, case["before"], case["before_enrolments"], 1)
        checkpoint = sign_checkpoint(app, KEY)
        append_entries(log, [checkpoint])
        record(app, case["after"], [], 1 + case["before"])
        assert verify_exit_code(url, log) == 0
        start = case["data"].draw(st.integers(1, checkpoint.position), label="suffix from")
        with app.engine.begin() as connection:
            t.drop_triggers(connection)
            TAMPERING[case["tampering"]](app, connection, start)
    finally:
        app.close()
        app.engine.dispose()
    assert verify_exit_code(url, log) == 1


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=ledgers)
def test_any_tampered_suffix_under_a_checkpoint_fails_verify_on_sqlite(tmp_path_factory, case):
    folder = tmp_path_factory.mktemp("ledger")
    check_property(f"sqlite:///{folder / 'ledger.db'}", folder / "log", case)


@pytest.mark.postgres
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=ledgers)
def test_any_tampered_suffix_under_a_checkpoint_fails_verify_on_postgres(tmp_path_factory,
                                                                         case):
    folder = tmp_path_factory.mktemp("log")
    check_property(fresh_postgres_url(), folder / "log", case)
