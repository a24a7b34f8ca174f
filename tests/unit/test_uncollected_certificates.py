"""AIM 5.4: certificates not collected are held 12 months, then due for contact."""

from datetime import date, timedelta

from ledger.rules.rulesets import load_rulebook
from projections.certificates import uncollected_certificates
from tests.unit.history import History, MemoryLedger

START = date(2025, 4, 1)


def certificated(ledger: MemoryLedger, ref: str, body: str = "AIM") -> History:
    learner = ledger.learner(ref)
    learner.enrol_on("E1", body, date(2026, 4, 1), date(2026, 4, 1) + timedelta(weeks=10))
    learner.submit_registration("E1", date(2026, 4, 8))
    learner.confirm_registration("E1", date(2026, 4, 9), "AIM-1")
    learner.sign_off_iqa("E1", date(2026, 6, 1))
    learner.submit_claim("E1", date(2026, 6, 2))
    learner.receive_certificate("E1", date(2026, 6, 30))
    return learner


def test_a_certificate_not_collected_is_held_12_months_then_due_for_contact() -> None:
    ledger = MemoryLedger()
    certificated(ledger, "L1")
    collected = certificated(ledger, "L2")
    collected.issue_certificate("E1", date(2026, 7, 1))
    collected.collect_certificate("E1", date(2026, 7, 2))
    book = load_rulebook()
    (held,) = uncollected_certificates(ledger.timelines(), book, date(2027, 6, 30))
    assert (held.learner, held.held_until, held.status) == ("L1", date(2027, 6, 30), "held")
    assert held.rule == (
        "AIM registration and certification policy (v1.0), clause 5.4: held 12 months")
    (due,) = uncollected_certificates(ledger.timelines(), book, date(2027, 7, 1))
    assert due.status == "due for contact"


def test_a_certificate_collected_after_the_judging_date_is_still_held_on_it() -> None:
    ledger = MemoryLedger()
    learner = certificated(ledger, "L1")
    learner.issue_certificate("E1", date(2026, 7, 1))
    learner.collect_certificate("E1", date(2026, 9, 1))
    assert [c.issued for c in uncollected_certificates(
        ledger.timelines(), load_rulebook(), date(2026, 8, 1))] == [date(2026, 7, 1)]
    assert uncollected_certificates(ledger.timelines(), load_rulebook(), date(2026, 9, 1)) == []


def test_awarding_bodies_without_the_rule_are_not_listed() -> None:
    ledger = MemoryLedger()
    certificated(ledger, "L1", body="IMI")
    assert uncollected_certificates(ledger.timelines(), load_rulebook(), date(2028, 1, 1)) == []
