"""Maladministration findings: one worked example per kind, with rule, dates and evidence."""

from datetime import date, timedelta

from ledger.rules.rulesets import load_rulebook
from projections.maladministration import Finding, maladministration
from tests.unit.history import History, MemoryLedger

START = date(2026, 4, 1)
SHORT_END = START + timedelta(weeks=15)
ON = date(2026, 11, 1)


def findings(ledger: MemoryLedger, on: date = ON, rule: str | None = None,
             body: str | None = None) -> list[Finding]:
    found = maladministration(ledger.timelines(), load_rulebook(), on, awarding_body=body)
    return [f for f in found if rule is None or f.rule == rule]


def registered(ledger: MemoryLedger, ref: str = "L1", body: str = "AIM",
               confirmed: date = date(2026, 4, 10)) -> tuple[History, list[int]]:
    learner = ledger.learner(ref)
    positions = [learner.enrol_on("E1", body, START, SHORT_END)]
    positions.append(learner.submit_registration("E1", date(2026, 4, 8)))
    positions.append(learner.confirm_registration("E1", confirmed, "AIM-1"))
    return learner, positions


def test_a_clean_history_has_no_findings() -> None:
    ledger = MemoryLedger()
    learner, _ = registered(ledger)
    learner.check_registration("E1", date(2026, 4, 15))  # 5th working day after 8 April
    learner.start_assessment("E1", date(2026, 4, 10))
    learner.complete_units("E1", date(2026, 6, 30))
    learner.sign_off_iqa("E1", date(2026, 7, 1))
    learner.submit_claim("E1", date(2026, 7, 15))      # 10th working day after 1 July
    learner.receive_certificate("E1", date(2026, 8, 3))
    learner.issue_certificate("E1", date(2026, 8, 10))  # 5th working day after 3 August
    assert findings(ledger) == []


def test_a_late_registration_is_a_finding_citing_the_rule_and_its_events() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    enrolled = learner.enrol_on("E1", "AIM", START, SHORT_END)
    submitted = learner.submit_registration("E1", date(2026, 5, 12))
    assert findings(ledger, rule="late-registration") == [Finding(
        rule="late-registration", awarding_body="AIM", rule_version="policy-1.0", clause="3.2",
        severity="major", centre="C1", learner="L1", enrolment="E1",
        dates={"programme_start": START, "deadline": date(2026, 5, 11),
               "submitted": date(2026, 5, 12)},
        evidence=[enrolled, submitted],
        message="registration late: submitted on 2026-05-12, 1 day after the deadline "
                "2026-05-11 (25 working days from the start)",
        citation="AIM registration and certification policy (v1.0), clause 3.2",
    )]


def test_three_late_registrations_in_twelve_months_are_persistent() -> None:
    ledger = MemoryLedger()
    evidence = []
    for n, start in enumerate([date(2026, 1, 5), date(2026, 3, 2), date(2026, 5, 4)]):
        learner = ledger.learner(f"L{n}")
        evidence.append(learner.enrol_on("E1", "IMI", start, start + timedelta(weeks=30)))
        evidence.append(learner.submit_registration("E1", start + timedelta(days=91)))
    (persistent,) = findings(ledger, rule="persistent-late-registration")
    assert (persistent.awarding_body, persistent.rule_version, persistent.severity) == (
        "IMI", "issue-10", "critical")
    assert persistent.learner is None and persistent.evidence == sorted(evidence)
    assert persistent.dates == {"from": date(2026, 4, 5), "to": date(2026, 8, 2)}
    assert persistent.message.startswith("3 late registrations with deadlines from 2026-04-05")


def test_two_late_registrations_are_not_yet_persistent() -> None:
    ledger = MemoryLedger()
    for n in range(2):
        learner = ledger.learner(f"L{n}")
        learner.enrol_on("E1", "IMI", START, SHORT_END)
        learner.submit_registration("E1", date(2026, 7, 1))
    assert findings(ledger, rule="persistent-late-registration") == []
    assert len(findings(ledger, rule="late-registration")) == 2


def test_assessment_before_the_registration_is_confirmed() -> None:
    ledger = MemoryLedger()
    learner, positions = registered(ledger, confirmed=date(2026, 4, 10))
    started = learner.start_assessment("E1", date(2026, 4, 9))
    (found,) = findings(ledger, rule="assessment-before-registration")
    assert found.evidence == sorted([started, positions[2]])
    assert found.message == ("assessment started on 2026-04-09 but the registration was "
                             "confirmed only on 2026-04-10")
    assert found.clause == "3.1"


def test_withdrawal_notified_on_day_30_is_in_time_and_day_31_is_late() -> None:
    ledger = MemoryLedger()
    in_time, _ = registered(ledger, "L1")
    in_time.withdraw("E1", date(2026, 5, 1), "left", date(2026, 5, 31))
    late, _ = registered(ledger, "L2")
    withdrawn = late.withdraw("E1", date(2026, 5, 1), "left", None)
    notified = late.notify_withdrawal("E1", date(2026, 6, 1))
    (found,) = findings(ledger, rule="withdrawal-notification")
    assert (found.learner, found.evidence) == ("L2", [withdrawn, notified])
    assert found.dates["deadline"] == date(2026, 5, 31)


def test_withdrawal_never_notified_is_a_finding_once_the_deadline_passes() -> None:
    ledger = MemoryLedger()
    learner, _ = registered(ledger)
    learner.withdraw("E1", date(2026, 5, 1), "no-contact", None)
    assert findings(ledger, on=date(2026, 5, 31), rule="withdrawal-notification") == []
    (found,) = findings(ledger, on=date(2026, 6, 1), rule="withdrawal-notification")
    assert found.message.startswith("withdrawal not notified to the AO by 2026-05-31")


def test_a_claim_without_iqa_sign_off_or_confirmed_registration_is_ineligible() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "AIM", START, SHORT_END)
    learner.submit_registration("E1", date(2026, 4, 8))
    claim = learner.submit_claim("E1", date(2026, 6, 1))
    found = findings(ledger, rule="claim-eligibility")
    assert [f.message.split(": ")[-1] for f in found] == [
        "no IQA sign-off", "registration not confirmed", "units not recorded as complete"]
    assert all(f.evidence == [claim] and f.severity == "critical" for f in found)


def test_a_claim_for_a_withdrawn_learner_is_ineligible() -> None:
    ledger = MemoryLedger()
    learner, _ = registered(ledger)
    learner.sign_off_iqa("E1", date(2026, 5, 1))
    withdrawn = learner.withdraw("E1", date(2026, 5, 4), "left", date(2026, 5, 5))
    claim = learner.submit_claim("E1", date(2026, 5, 6))
    (found,) = [f for f in findings(ledger, rule="claim-eligibility")
                if "withdrawn" in f.message]
    assert found.evidence == [withdrawn, claim]
    assert "learner withdrawn (left on 2026-05-04)" in found.message


def test_a_claim_after_10_working_days_from_iqa_sign_off_is_late() -> None:
    ledger = MemoryLedger()
    learner, _ = registered(ledger)
    signed = learner.sign_off_iqa("E1", date(2026, 7, 1))
    claim = learner.submit_claim("E1", date(2026, 7, 16))
    (found,) = findings(ledger, rule="claim-deadline")
    assert (found.evidence, found.dates["deadline"]) == ([signed, claim], date(2026, 7, 15))


def test_a_certificate_issued_after_5_working_days_from_receipt_is_late() -> None:
    ledger = MemoryLedger()
    learner, _ = registered(ledger)
    learner.sign_off_iqa("E1", date(2026, 7, 1))
    learner.submit_claim("E1", date(2026, 7, 2))
    # Received Friday 21 August 2026; Monday 31 August is the late summer bank holiday.
    received = learner.receive_certificate("E1", date(2026, 8, 21))
    issued = learner.issue_certificate("E1", date(2026, 9, 1))
    (found,) = findings(ledger, rule="certificate-issue")
    assert (found.evidence, found.dates["deadline"]) == ([received, issued], date(2026, 8, 28))
    # judged on the deadline day, the issue (1 September) has not happened yet: none due;
    # the day after, it is overdue
    assert findings(ledger, on=date(2026, 8, 28), rule="certificate-issue") == []
    (overdue,) = findings(ledger, on=date(2026, 8, 29), rule="certificate-issue")
    assert overdue.dates["issued"] is None


def test_a_uln_rejected_by_the_lrs_and_not_corrected_is_a_finding_after_a_week() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner(uln="1000000043")
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    rejected = learner.record_lrs_result("WSVRC006", [], None, date(2026, 5, 1))
    assert findings(ledger, on=date(2026, 5, 8), rule="uln-rejected-uncorrected") == []
    (found,) = findings(ledger, on=date(2026, 5, 9), rule="uln-rejected-uncorrected")
    assert found.evidence == [rejected] and found.enrolment is None
    assert found.message == ("ULN rejected by the LRS (WSVRC006) on 2026-05-01 "
                             "and not corrected")
    learner.record_uln("1000102504", date(2026, 5, 10))
    assert findings(ledger, rule="uln-rejected-uncorrected") == []


def test_an_lrs_field_amended_after_confirmation_needs_a_new_verification() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner(uln="1000000043")
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    confirmed = learner.record_lrs_result("WSVRC001", [], None, date(2026, 4, 6))
    learner.amend("email", "ada@example.org", "new address", date(2026, 4, 7))
    amended = learner.amend("family_name", "Byron", "married", date(2026, 4, 8))
    (found,) = findings(ledger, rule="lrs-reverification")
    assert found.evidence == [confirmed, amended]
    assert found.message.startswith("family_name amended on 2026-04-08 after the ULN was "
                                    "confirmed on 2026-04-06")
    learner.record_lrs_result("WSVRC001", [], None, date(2026, 4, 20))
    assert findings(ledger, rule="lrs-reverification") == []


def test_imi_names_the_lrs_fields_it_checks_so_a_postcode_change_is_not_a_finding() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner(uln="1000000043")
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.record_lrs_result("WSVRC001", [], None, date(2026, 4, 6))
    learner.amend("postcode", "LS6 3AB", "moved", date(2026, 4, 7))
    assert findings(ledger, rule="lrs-reverification") == []
    learner.amend("date_of_birth", date(2000, 1, 2), "typo", date(2026, 4, 8))
    assert len(findings(ledger, rule="lrs-reverification")) == 1


def test_data_quality_warnings_are_findings_until_corrected() -> None:
    ledger = MemoryLedger()
    warnings = [{"code": "name-capitals", "field": "family_name",
                 "message": "'LOVELACE' is all capitals"}]
    learner = ledger.learner(family_name="LOVELACE", warnings=warnings)
    learner.enrol_on("E1", "IMI", START, SHORT_END, warnings=[
        {"code": "age-implausible", "field": "date_of_birth",
         "message": "learner would be 126 on the programme start date 2026-04-01"}])
    found = findings(ledger, rule="data-quality")
    assert [(f.evidence, f.enrolment, f.message.split(":")[0]) for f in found] == [
        ([1], None, "name-capitals"), ([2], "E1", "age-implausible")]
    learner.amend("family_name", "Lovelace", "capitals", date(2026, 4, 2))
    assert [f.message.split(":")[0] for f in findings(ledger, rule="data-quality")] == [
        "age-implausible"]


def test_learner_findings_are_reported_under_each_awarding_body_once() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner(born=date(1901, 1, 1), warnings=[
        {"code": "dob-placeholder", "field": "date_of_birth", "message": "a placeholder"}])
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.enrol_on("E2", "IMI", START, SHORT_END)
    learner.enrol_on("E3", "AIM", START, SHORT_END)
    found = findings(ledger, on=START, rule="data-quality")
    assert [f.awarding_body for f in found] == ["AIM", "IMI"]
    assert [f.awarding_body for f in findings(ledger, on=START, body="IMI")] == ["IMI"]


def test_initials_and_capitals_are_imis_rejection_reasons_not_aims() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner(given_name="A. J.", warnings=[
        {"code": "name-initials", "field": "given_name", "message": "'A. J.' uses initials"}])
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.enrol_on("E3", "AIM", START, SHORT_END)
    found = findings(ledger, on=START, rule="data-quality")
    assert [(f.awarding_body, f.clause) for f in found] == [
        ("IMI", "Registering learners: rejection reasons")]


def test_a_retracted_assessment_start_is_no_longer_a_finding() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "AIM", START, SHORT_END)
    started = learner.start_assessment("E1", date(2026, 4, 2))
    assert findings(ledger, on=date(2026, 4, 2), rule="assessment-before-registration")
    learner.retract_at(started)
    assert findings(ledger, on=date(2026, 4, 2), rule="assessment-before-registration") == []


def test_a_learner_never_registered_owes_no_withdrawal_notification() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "AIM", START, SHORT_END)
    learner.withdraw("E1", date(2026, 4, 20), "left", None)   # before the 11 May deadline
    assert findings(ledger, rule="withdrawal-notification") == []
    assert findings(ledger) == []


def test_a_registration_rejected_by_the_ao_needs_no_withdrawal_notification() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "AIM", START, SHORT_END)
    learner.submit_registration("E1", date(2026, 4, 8))
    learner.reject_registration("E1", date(2026, 4, 9), "no such qualification")
    learner.withdraw("E1", date(2026, 4, 20), "left", None)
    assert findings(ledger, rule="withdrawal-notification") == []


def test_a_registered_learner_who_left_still_owes_the_notification() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "AIM", START, SHORT_END)
    learner.withdraw("E1", date(2026, 4, 20), "left", None)
    learner.submit_registration("E1", date(2026, 4, 8))   # learned after the withdrawal
    (found,) = findings(ledger, rule="withdrawal-notification")
    assert found.dates["deadline"] == date(2026, 5, 20)


def apprentice(ledger: MemoryLedger, uln: str | None) -> History:
    learner = ledger.learner(uln=uln)
    learner.enrol("E1", "IMI", "603/0000/1", "Apprenticeship", [], START,
                  START + timedelta(weeks=60), True, [])
    return learner


def test_an_apprenticeship_registered_without_a_uln_is_a_finding() -> None:
    ledger = MemoryLedger()
    learner = apprentice(ledger, None)
    submitted = learner.submit_registration("E1", date(2026, 4, 8))
    (found,) = findings(ledger, rule="uln-apprenticeship")
    assert (found.awarding_body, found.enrolment, found.evidence) == (
        "IMI", "E1", [learner.events[1][0], submitted])
    assert "registered on 2026-04-08 without a ULN" in found.message


def test_an_apprenticeship_registered_with_a_uln_is_not_a_finding() -> None:
    ledger = MemoryLedger()
    with_uln = apprentice(ledger, "1000000043")
    with_uln.submit_registration("E1", date(2026, 4, 8))
    later = MemoryLedger()
    learner = apprentice(later, None)
    learner.record_uln("1000000043", date(2026, 4, 7))
    learner.submit_registration("E1", date(2026, 4, 8))
    assert findings(ledger, rule="uln-apprenticeship") == []
    assert findings(later, rule="uln-apprenticeship") == []


def test_a_uln_recorded_only_after_the_registration_does_not_clear_the_finding() -> None:
    ledger = MemoryLedger()
    learner = apprentice(ledger, None)
    learner.submit_registration("E1", date(2026, 4, 8))
    learner.record_uln("1000000043", date(2026, 4, 9))
    assert len(findings(ledger, rule="uln-apprenticeship")) == 1


def test_a_claim_without_registration_or_sign_off_is_a_finding_for_every_awarding_body(
) -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.enrol_on("E2", "GATEWAY", START, SHORT_END)
    learner.enrol_on("E3", "NOSUCH", START, SHORT_END)
    for ref in ("E1", "E2", "E3"):
        learner.submit_claim(ref, date(2026, 6, 1))
    found = findings(ledger, rule="claim-eligibility")
    assert sorted((f.awarding_body, f.message.split(": ")[-1]) for f in found) == [
        (body, reason) for body in ("GATEWAY", "IMI", "NOSUCH")
        for reason in ("no IQA sign-off", "registration not confirmed")]
    assert {f.rule_version for f in found} == {"ledger"}
    assert {f.citation for f in found} == {
        "ledger consistency rule: no certificate without a confirmed registration and an "
        "IQA sign-off"}


def test_a_certificate_received_for_an_unregistered_enrolment_is_a_finding() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.sign_off_iqa("E1", date(2026, 5, 1))
    learner.submit_claim("E1", date(2026, 5, 4))
    received = learner.receive_certificate("E1", date(2026, 5, 20))
    found = [f for f in findings(ledger, rule="claim-eligibility")
             if received in f.evidence]
    assert [f.message.split(": ")[-1] for f in found] == ["registration not confirmed"]


def test_facts_after_the_judging_date_raise_no_finding() -> None:
    ledger = MemoryLedger()
    learner, _ = registered(ledger, confirmed=date(2026, 4, 10))
    learner.start_assessment("E1", date(2026, 4, 9))
    learner.withdraw("E1", date(2026, 5, 1), "left", date(2026, 6, 5))
    assert findings(ledger, on=date(2026, 4, 8)) == []
    (found,) = findings(ledger, on=date(2026, 6, 1), rule="withdrawal-notification")
    assert found.dates["notified"] is None      # notified on 5 June: not yet on 1 June
    assert findings(ledger, on=date(2026, 6, 1), rule="assessment-before-registration")
