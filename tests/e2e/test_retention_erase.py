"""Attack 7: `ledger retention --on FUTURE --erase` must not erase today what ends later."""

from __future__ import annotations

import json
from datetime import date, timedelta

from tests.e2e.test_cli_privacy import ENROL, LEARNER, WITHDRAW, audit


def test_erasing_with_a_future_on_date_is_refused_and_erases_nothing(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger(*WITHDRAW)  # left 2023-10-02: kept until 2026-10-02 under its rule set
    future = "2030-01-01"
    listed = json.loads(ledger("retention", "--on", future, "--format", "json").stdout)
    assert [row["learner"] for row in listed["rows"]] == ["L1"]  # listing may look ahead
    before = audit(ledger)
    result = ledger("retention", "--on", future, "--erase", "--yes")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: on: --erase erases only what has ended by today ({date.today().isoformat()}); "
        f"{future} is in the future: --on is for listing\n")
    assert audit(ledger) == before


def test_erasing_judged_on_today_or_an_earlier_date_is_allowed(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger(*WITHDRAW)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert ledger("retention", "--on", tomorrow, "--erase", "--yes").exit_code == 1
    result = ledger("retention", "--on", date.today().isoformat(), "--erase", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("Erased 1 learner\n")
