"""Facts are recorded in the order they are learned: guards compare business dates only."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.learner import Context, Learner
from tests.unit.history import replayed

CTX = Context(actor="officer", source="test")
START = date(2026, 3, 2)
LEFT = date(2026, 4, 20)


def withdrawn_learner() -> Learner:
    learner = Learner.record("C1", "L1", {"given_name": "Ann", "family_name": "Lee",
                                          "date_of_birth": date(2000, 1, 1), "gender": 2},
                             None, [], date(2026, 3, 1), CTX)
    learner.enrol("E1", "AIM", "603/1234/5", "Diploma", [], START, date(2026, 6, 1), False,
                  [], CTX)
    learner.withdraw("E1", LEFT, "left", None, CTX)
    return learner


def test_a_registration_made_before_the_learner_left_can_be_recorded_after_the_withdrawal():
    learner = withdrawn_learner()
    learner.submit_registration("E1", date(2026, 4, 10), CTX)
    learner.confirm_registration("E1", date(2026, 4, 12), "AIM-1", CTX)
    assert learner.registration("E1")[0] == "confirmed"
    assert replayed(learner.collect_events()).registration("E1")[0] == "confirmed"


def test_a_registration_dated_after_the_learner_left_is_recorded():
    """A centre that never registered a learner registers them to withdraw them: the fact is
    recorded (and judged late by the reports), whichever was recorded first."""
    learner = withdrawn_learner()
    learner.submit_registration("E1", date(2026, 4, 21), CTX)
    learner.confirm_registration("E1", date(2026, 4, 23), "AIM-1", CTX)
    assert learner.registration("E1")[0] == "confirmed"
    assert replayed(learner.collect_events()).registration("E1")[0] == "confirmed"


def test_a_registration_on_the_day_the_learner_left_is_accepted():
    learner = withdrawn_learner()
    learner.submit_registration("E1", LEFT, CTX)
    assert learner.registration("E1")[0] == "submitted"


def test_every_step_before_leaving_can_be_recorded_after_the_withdrawal():
    learner = withdrawn_learner()
    learner.submit_registration("E1", date(2026, 3, 10), CTX)
    learner.confirm_registration("E1", date(2026, 3, 12), "AIM-1", CTX)
    learner.start_assessment("E1", date(2026, 3, 20), CTX)
    learner.sign_off_iqa("E1", date(2026, 4, 15), CTX)
    learner.submit_claim("E1", date(2026, 4, 17), CTX)
    learner.receive_certificate("E1", date(2026, 5, 1), CTX)
    learner.issue_certificate("E1", date(2026, 5, 4), CTX)
    learner.collect_certificate("E1", date(2026, 5, 5), CTX)
    learner.notify_withdrawal("E1", date(2026, 4, 30), CTX)
    assert [f.kind for f in learner.live_facts()][-9:] == [
        "registration-submitted", "registration-confirmed", "assessment-started",
        "iqa-signed-off", "claim-submitted", "certificate-received", "certificate-issued",
        "certificate-collected", "withdrawal-notified"]


@settings(deadline=None)
@given(st.permutations(range(4)), st.integers(0, 60), st.integers(1, 120))
def test_the_same_facts_are_accepted_in_any_recording_order(order, left_after, submitted):
    """Registration (before or after the learner left), assessment, sign-off and withdrawal,
    dated in a valid order, are all recorded whatever order they are learned in
    (confirmation follows its submission)."""
    left = START + timedelta(days=10 + left_after)
    steps = [
        lambda it: (it.submit_registration("E1", START + timedelta(days=submitted), CTX),
                    it.confirm_registration("E1", START + timedelta(days=submitted + 1),
                                            "AIM-1", CTX)),
        lambda it: it.start_assessment("E1", START + timedelta(days=3), CTX),
        lambda it: it.sign_off_iqa("E1", START + timedelta(days=8), CTX),
        lambda it: it.withdraw("E1", left, "left", None, CTX),
    ]
    learner = Learner.record("C1", "L1", {"given_name": "Ann", "family_name": "Lee",
                                          "date_of_birth": date(2000, 1, 1), "gender": 2},
                             None, [], date(2026, 3, 1), CTX)
    learner.enrol("E1", "AIM", "603/1234/5", "Diploma", [], START, date(2026, 6, 1), False,
                  [], CTX)
    for index in order:
        steps[index](learner)
    kinds = {f.kind for f in learner.live_facts()}
    assert {"registration-confirmed", "assessment-started", "iqa-signed-off",
            "withdrawn"} <= kinds
