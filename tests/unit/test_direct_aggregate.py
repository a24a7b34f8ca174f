"""Commands that apply their events directly make what the library's own machinery makes."""

from contextlib import suppress
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate, decorated_funcs
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.direct import CREATED_HEAD, EVENT_HEAD, attributes_in_order, made
from aggregates.errors import LedgerError
from aggregates.learner import Context, Learner, LearnerReference
from tests.unit.history import replayed

CTX = Context(actor="officer", source="test", note="a note")
DETAILS = {"given_name": "Ann", "family_name": "Lee", "date_of_birth": date(2000, 1, 1),
           "gender": 2}
DAYS = [date(2026, 9, day) for day in (1, 2, 9, 20)]
REFS = ["E1", "E2"]

COMMANDS: list[tuple[str, Any]] = [
    ("enrol", lambda lr, ref, on, n: lr.enrol(ref, "IMI", "603/1234/5", "Diploma", ["A", "B"][:n],
                                           on, date(2027, 7, 1), n == 1, [], CTX)),
    ("uln", lambda lr, ref, on, n: lr.record_uln(["1000000043", "9276308686"][n], on, CTX)),
    ("lrs", lambda lr, ref, on, n: lr.record_lrs_result(["WSVRC001", "WSVRC005"][n], ["VRF7"],
                                                      None, on, CTX)),
    ("id", lambda lr, ref, on, n: lr.verify_id("passport", on, CTX)),
    ("submit", lambda lr, ref, on, n: lr.submit_registration(ref, on, CTX)),
    ("confirm", lambda lr, ref, on, n: lr.confirm_registration(ref, on, "AO-1", CTX)),
    ("reject", lambda lr, ref, on, n: lr.reject_registration(ref, on, "wrong", CTX)),
    ("amend", lambda lr, ref, on, n: lr.amend("family_name", ["Lea", "Leigh"][n], "typo", on,
                                              CTX)),
    ("assess", lambda lr, ref, on, n: lr.start_assessment(ref, on, CTX)),
    ("withdraw", lambda lr, ref, on, n: lr.withdraw(ref, on, "left", None, CTX)),
    ("notify", lambda lr, ref, on, n: lr.notify_withdrawal(ref, on, CTX)),
    ("iqa", lambda lr, ref, on, n: lr.sign_off_iqa(ref, on, CTX)),
    ("claim", lambda lr, ref, on, n: lr.submit_claim(ref, on, CTX)),
    ("receive", lambda lr, ref, on, n: lr.receive_certificate(ref, on, CTX)),
    ("issue", lambda lr, ref, on, n: lr.issue_certificate(ref, on, CTX)),
    ("collect", lambda lr, ref, on, n: lr.collect_certificate(ref, on, CTX)),
    ("retract", lambda lr, ref, on, n: lr.retract(lr.version - n, "in error", on, CTX)),
]

steps = st.lists(st.tuples(st.sampled_from(COMMANDS), st.sampled_from(REFS),
                           st.sampled_from(DAYS), st.integers(0, 1)), max_size=25)


def run(steps: list[Any]) -> tuple[Learner, list[Any]]:
    """A learner after these commands (refused ones skipped), and its events."""
    learner = Learner.record("C1", "L1", DETAILS, None, [], DAYS[0], CTX)
    learner.enrol("E1", "IMI", "603/1234/5", "Diploma", [], DAYS[0], date(2027, 7, 1), False,
                  [], CTX)
    for (_, command), ref, on, n in steps:
        with suppress(LedgerError):  # a refused command records nothing, on either path
            command(learner, ref, on, n)
    return learner, list(learner.collect_events())


def without_times(values: dict[str, Any]) -> list[tuple[str, Any]]:
    """The attributes in their order (the stored JSON's), less the times and pending events."""
    return [(name, value) for name, value in values.items()
            if name not in ("timestamp", "_created_on", "_modified_on", "_pending_events")]


@settings(max_examples=150, deadline=None)
@given(steps)
def test_commands_make_the_events_and_state_the_library_would(steps):
    learner, events = run(steps)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Learner, "trigger_event", Aggregate.trigger_event)
        patch.setattr(Learner, "_create", classmethod(Aggregate._create.__func__))
        library_learner, library_events = run(steps)
    assert [(type(e), without_times(vars(e))) for e in events] == [
        (type(e), without_times(vars(e))) for e in library_events]
    assert without_times(vars(learner)) == without_times(vars(library_learner))
    assert learner.modified_on == events[-1].timestamp
    assert without_times(vars(replayed(events))) == without_times(vars(learner))


def test_a_reference_index_is_created_and_extended_as_the_library_does():
    index = LearnerReference.start("L1")
    index.add_centre("C1")
    index.add_centre("C1")
    events = list(index.collect_events())
    assert [type(e).__name__ for e in events] == ["Created", "CentreAdded"]
    assert [e.originator_version for e in events] == [1, 2]
    copy = replayed(events)
    assert (copy.id, copy.version, copy.centres) == (index.id, 2, ["C1"])


def _event_classes() -> list[tuple[type, tuple[str, ...]]]:
    """Every event class the commands make, with the attributes before their own."""
    created = [(Learner.Recorded, CREATED_HEAD), (LearnerReference.Created, CREATED_HEAD)]
    return created + [(value, EVENT_HEAD) for aggregate in (Learner, LearnerReference)
                      for value in vars(aggregate).values()
                      if isinstance(value, type) and value in decorated_funcs]


def test_every_event_class_is_filled_directly():
    classes = _event_classes()
    assert len(classes) == 28  # the Learner's 26 and the index's 2
    assert all(attributes_in_order(cls, head) for cls, head in classes)


ENROLLED = {"enrolment": "E1", "awarding_body": "IMI", "qualification": "603/1234/5",
            "qualification_title": "Diploma", "units": ["A"], "programme_start": DAYS[0],
            "planned_end": date(2027, 7, 1), "apprenticeship": False, "warnings": [],
            "occurred_on": DAYS[0], "actor": "officer", "source": "test", "note": None}


@pytest.mark.parametrize("attributes", [ENROLLED, dict(reversed(ENROLLED.items()))],
                         ids=["in order", "out of order"])
def test_an_event_made_directly_is_the_one_its_class_makes(attributes):
    first = (uuid4(), 2, Learner.Enrolled.create_timestamp())
    event = made(Learner.Enrolled, EVENT_HEAD, first, attributes)
    library = Learner.Enrolled(**dict(zip(EVENT_HEAD, first, strict=True)), **ENROLLED)
    assert event == library
    assert list(vars(event).items()) == list(vars(library).items())  # the stored JSON's order


def test_an_event_with_an_id_that_is_not_a_uuid_is_refused_as_the_library_does():
    first = ("not-a-uuid", 2, Learner.Enrolled.create_timestamp())
    with pytest.raises(TypeError, match="non-UUID originator_id"):
        made(Learner.Enrolled, EVENT_HEAD, first, ENROLLED)
