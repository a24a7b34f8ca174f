"""AIM 3.4 registration checks and AIM 5.1 in full (units complete, EQA sampling)."""

from datetime import date, timedelta

import pytest

from aggregates.errors import DateOrderError, ImpossibleCommand
from ledger.rules.rulesets import load_rulebook
from projections.maladministration import Finding, maladministration
from tests.unit.history import History, MemoryLedger, replayed

START = date(2026, 4, 1)
SHORT_END = START + timedelta(weeks=15)
SUBMITTED = date(2026, 4, 8)   # Wednesday: the 5th working day after is Wednesday 15 April


def findings(ledger: MemoryLedger, rule: str, on: date = date(2026, 11, 1)) -> list[Finding]:
    return [f for f in maladministration(ledger.timelines(), load_rulebook(), on)
            if f.rule == rule]


def submitted(ledger: MemoryLedger, body: str = "AIM") -> History:
    learner = ledger.learner()
    learner.enrol_on("E1", body, START, SHORT_END)
    learner.submit_registration("E1", SUBMITTED)
    return learner


def test_a_registration_checked_on_the_5th_working_day_is_in_time_the_6th_is_late() -> None:
    in_time, late = MemoryLedger(), MemoryLedger()
    submitted(in_time).check_registration("E1", date(2026, 4, 15))
    checked = submitted(late).check_registration("E1", date(2026, 4, 16))
    assert findings(in_time, "registration-check") == []
    (found,) = findings(late, "registration-check")
    assert (found.clause, found.dates["deadline"], found.evidence[-1]) == (
        "3.4", date(2026, 4, 15), checked)
    assert found.citation == "AIM registration and certification policy (v1.0), clause 3.4"


def test_a_registration_never_checked_is_a_finding_once_the_5_working_days_pass() -> None:
    ledger = MemoryLedger()
    submitted(ledger)
    assert findings(ledger, "registration-check", on=date(2026, 4, 15)) == []
    (found,) = findings(ledger, "registration-check", on=date(2026, 4, 16))
    assert found.message.startswith("registration not checked by 2026-04-15")


def test_imi_has_no_registration_check_rule() -> None:
    ledger = MemoryLedger()
    submitted(ledger, "IMI")
    assert findings(ledger, "registration-check") == []


def test_a_registration_cannot_be_checked_before_it_was_submitted() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "AIM", START, SHORT_END)
    with pytest.raises(ImpossibleCommand, match="no registration submitted"):
        learner.check_registration("E1", SUBMITTED)
    learner.submit_registration("E1", SUBMITTED)
    with pytest.raises(DateOrderError, match="registration check 2026-04-07 is before"):
        learner.check_registration("E1", date(2026, 4, 7))


def claimed(ledger: MemoryLedger, units: bool, required: bool, sampled: bool) -> History:
    learner = submitted(ledger)
    learner.confirm_registration("E1", date(2026, 4, 9), "AIM-1")
    if units:
        learner.complete_units("E1", date(2026, 6, 25))
    learner.sign_off_iqa("E1", date(2026, 7, 1))
    if required:
        learner.require_eqa_sampling("E1", date(2026, 6, 1))
    if sampled:
        learner.record_eqa_sampled("E1", date(2026, 7, 2))
    learner.submit_claim("E1", date(2026, 7, 3))
    return learner


@pytest.mark.parametrize(("units", "required", "sampled", "reasons"), [
    (True, False, False, []),
    (True, True, True, []),
    (False, False, False, ["units not recorded as complete"]),
    (True, True, False, ["EQA sampling required but not done"]),
    (False, True, False, ["units not recorded as complete",
                          "EQA sampling required but not done"]),
])
def test_an_aim_claim_needs_units_complete_and_eqa_sampling_where_required(
    units: bool, required: bool, sampled: bool, reasons: list[str],
) -> None:
    ledger = MemoryLedger()
    claimed(ledger, units, required, sampled)
    found = findings(ledger, "claim-eligibility")
    assert [f.message.split(": ")[-1] for f in found] == reasons
    assert all(f.clause == "5.1" for f in found)


def test_units_completion_and_eqa_sampling_replay_as_facts() -> None:
    ledger = MemoryLedger()
    learner = claimed(ledger, True, True, True)
    rebuilt = replayed(e for _, e in learner.events)
    kinds = [f.kind for f in rebuilt.live_facts()]
    assert {"units-completed", "eqa-sampling-required", "eqa-sampled"} <= set(kinds)
    with pytest.raises(ImpossibleCommand, match="already recorded"):
        learner.complete_units("E1", date(2026, 6, 26))


def test_a_check_leaves_the_registration_state_as_it_was() -> None:
    ledger = MemoryLedger()
    learner = submitted(ledger)
    learner.check_registration("E1", date(2026, 4, 9))
    assert learner.learner.registration("E1")[0] == "submitted"
    learner.confirm_registration("E1", date(2026, 4, 10), "AIM-1")
    assert learner.learner.registration("E1")[0] == "confirmed"
