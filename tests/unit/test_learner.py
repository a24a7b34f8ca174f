"""The Learner aggregate in memory: facts, guards and retractions."""

from datetime import date

import pytest

from aggregates.errors import (
    DateOrderError,
    DuplicateEnrolment,
    ImpossibleCommand,
    InvalidValue,
    UnknownEnrolment,
)
from aggregates.learner import Context, Learner, learner_id
from tests.unit.history import replayed

CTX = Context(actor="officer", source="test")
DETAILS = {"given_name": "Ann", "family_name": "Lee", "date_of_birth": date(2000, 1, 1),
           "gender": 2}


def new_learner(uln: str | None = "1000000043") -> Learner:
    learner = Learner.record("C1", "L1", DETAILS, uln, [], date(2026, 9, 1), CTX)
    learner.enrol("E1", "IMI", "603/1234/5", "Diploma", [], date(2026, 9, 1),
                  date(2027, 7, 1), False, [], CTX)
    return learner


def test_the_same_centre_and_reference_always_give_the_same_id():
    assert new_learner().id == learner_id("C1", "L1")
    assert learner_id("C1", "L1") != learner_id("C2", "L1")


def test_every_event_carries_its_business_date_actor_and_source():
    learner = new_learner()
    learner.withdraw("E1", date(2026, 10, 1), "left", None, Context("bob", "cli", "phoned"))
    event = learner.collect_events()[-1]
    assert (event.occurred_on, event.actor, event.source, event.note) == (
        date(2026, 10, 1), "bob", "cli", "phoned")


def test_an_enrolment_reference_cannot_be_used_twice():
    learner = new_learner()
    with pytest.raises(DuplicateEnrolment):
        learner.enrol("E1", "AIM", "1", "x", [], date(2026, 9, 1), date(2027, 1, 1), False,
                      [], CTX)


def test_a_planned_end_before_the_start_is_refused():
    learner = new_learner()
    with pytest.raises(DateOrderError, match="planned end 2026-08-01 is before programme start"):
        learner.enrol("E2", "AIM", "1", "x", [], date(2026, 9, 1), date(2026, 8, 1), False,
                      [], CTX)


def test_leaving_before_the_programme_started_is_refused_and_nothing_is_recorded():
    learner = new_learner()
    version = learner.version
    with pytest.raises(DateOrderError, match="leaving date"):
        learner.withdraw("E1", date(2026, 8, 31), "left", None, CTX)
    assert learner.version == version


def test_commands_on_an_unknown_enrolment_are_refused():
    learner = new_learner()
    with pytest.raises(UnknownEnrolment, match="E9"):
        learner.submit_claim("E9", date(2026, 10, 1), CTX)


def test_a_withdrawn_enrolment_can_still_be_registered_late():
    """A centre registers a learner it never registered in order to withdraw them; the
    report judges the registration late (tests/unit/test_facts_out_of_order.py)."""
    learner = new_learner()
    learner.withdraw("E1", date(2026, 10, 1), "requested", None, CTX)
    learner.submit_registration("E1", date(2026, 10, 2), CTX)
    assert learner.registration("E1")[0] == "submitted"


def test_a_registration_cannot_be_submitted_twice_but_can_after_a_rejection():
    learner = new_learner()
    learner.submit_registration("E1", date(2026, 9, 10), CTX)
    with pytest.raises(ImpossibleCommand, match="already submitted"):
        learner.submit_registration("E1", date(2026, 9, 11), CTX)
    learner.reject_registration("E1", date(2026, 9, 12), "DOB missing", CTX)
    learner.submit_registration("E1", date(2026, 9, 13), CTX)
    learner.confirm_registration("E1", date(2026, 9, 14), "AO1", CTX)
    assert learner.registration("E1")[0] == "confirmed"


def test_a_confirmation_before_its_submission_is_refused():
    learner = new_learner()
    learner.submit_registration("E1", date(2026, 9, 10), CTX)
    with pytest.raises(DateOrderError):
        learner.confirm_registration("E1", date(2026, 9, 9), "AO1", CTX)


def test_a_confirmed_uln_is_locked_and_a_rejected_one_is_removed():
    learner = new_learner()
    learner.record_lrs_result("WSVRC001", [], None, date(2026, 9, 5), CTX)
    assert learner.uln_status() == ("1000000043", "confirmed")
    with pytest.raises(ImpossibleCommand, match="locked"):
        learner.record_uln("9276308686", date(2026, 9, 6), CTX)
    other = new_learner()
    other.record_lrs_result("WSVRC006", ["VRF7"], None, date(2026, 9, 5), CTX)
    assert other.uln_status() == (None, "rejected")
    other.record_uln("9276308686", date(2026, 9, 6), CTX)
    assert other.uln_status() == ("9276308686", "unverified")


def test_a_linked_match_records_the_master_uln():
    learner = new_learner()
    learner.record_lrs_result("WSVRC002", [], "9276308686", date(2026, 9, 5), CTX)
    assert learner.uln_status() == ("9276308686", "confirmed")


def test_an_lrs_result_needs_a_known_code_and_a_uln():
    learner = new_learner(uln=None)
    with pytest.raises(InvalidValue, match="WSVRC009"):
        learner.record_lrs_result("WSVRC009", [], None, date(2026, 9, 5), CTX)
    with pytest.raises(ImpossibleCommand, match="no ULN"):
        learner.record_lrs_result("WSVRC001", [], None, date(2026, 9, 5), CTX)


def test_certificate_steps_follow_the_claim_in_order():
    learner = new_learner()
    with pytest.raises(ImpossibleCommand, match="no claim submitted"):
        learner.receive_certificate("E1", date(2026, 12, 1), CTX)
    learner.submit_claim("E1", date(2026, 11, 1), CTX)
    learner.receive_certificate("E1", date(2026, 11, 10), CTX)
    with pytest.raises(DateOrderError):
        learner.issue_certificate("E1", date(2026, 11, 9), CTX)


def test_a_retracted_withdrawal_no_longer_counts_and_survives_replay():
    learner = new_learner()
    learner.withdraw("E1", date(2026, 10, 1), "left", None, CTX)
    withdrawn_version = learner.version
    learner.retract(withdrawn_version, "wrong learner", date(2026, 10, 2), CTX)
    assert learner.latest("withdrawn", "E1") is None
    copy = replayed(learner.collect_events())
    assert copy.latest("withdrawn", "E1") is None
    assert copy.retracted == {withdrawn_version}
    copy.submit_registration("E1", date(2026, 10, 3), CTX)


def test_an_amendment_changes_the_detail_and_its_retraction_restores_it():
    learner = new_learner()
    learner.amend("family_name", "Leigh", "typo", date(2026, 9, 2), CTX)
    assert learner.detail("family_name") == "Leigh"
    learner.retract(learner.version, "amended in error", date(2026, 9, 3), CTX)
    assert learner.detail("family_name") == "Lee"


def test_retractions_cannot_remove_the_learner_or_be_retracted_or_repeated():
    learner = new_learner()
    with pytest.raises(ImpossibleCommand, match="cannot be retracted"):
        learner.retract(1, "x", date(2026, 9, 3), CTX)
    learner.submit_claim("E1", date(2026, 10, 1), CTX)
    claim = learner.version
    learner.retract(claim, "x", date(2026, 10, 2), CTX)
    with pytest.raises(ImpossibleCommand, match="already retracted"):
        learner.retract(claim, "x", date(2026, 10, 2), CTX)
    with pytest.raises(ImpossibleCommand, match="retraction cannot be retracted"):
        learner.retract(learner.version, "x", date(2026, 10, 2), CTX)


def test_an_enrolment_with_live_facts_cannot_be_retracted():
    learner = new_learner()
    learner.submit_registration("E1", date(2026, 9, 10), CTX)
    with pytest.raises(ImpossibleCommand, match="retract them first"):
        learner.retract(2, "enrolled in error", date(2026, 9, 11), CTX)


def test_units_selected_twice_are_kept_once_whichever_way_they_arrive():
    learner = new_learner()
    learner.enrol("E2", "AIM", "Q1", "Award", ["A", "B", "A"], date(2026, 9, 1),
                  date(2027, 1, 1), False, [], CTX)
    assert learner.enrolment("E2").values["units"] == ["A", "B"]
