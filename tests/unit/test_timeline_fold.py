"""A learner's timeline keeps no personal data: each fact's values, whatever an event holds."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.learner import personal_attributes
from projections.audit import COMMON_ATTRIBUTES
from projections.timeline import Entry, apply_entry, new_timeline

EVENTS = st.sampled_from(["Recorded", "UlnRecorded", "LrsResultRecorded", "DetailsAmended",
                          "Enrolled", "Withdrawn"])
ATTRIBUTES = st.sampled_from([
    "details", "uln", "master_uln", "old", "new", "reason", "note", "_sealed", "actor",
    "source", "awarding_body", "units", "outcome", "left_on", "warnings",
])
VALUES = st.none() | st.integers(0, 9) | st.text(max_size=3)
WARNINGS = st.lists(st.fixed_dictionaries(
    {"code": st.text(max_size=3), "field": st.text(max_size=3), "message": VALUES}), max_size=2)


def expected_values(name: str, state: dict[str, Any]) -> dict[str, Any]:
    """What the fold must keep, written out plainly: every attribute but the personal ones,
    those every event has and private ones, in the event's order; ULNs as a flag that one was
    given; warnings without their messages."""
    personal = personal_attributes(name)
    values = {key: value for key, value in state.items()
              if key not in personal and key not in COMMON_ATTRIBUTES and key[0] != "_"}
    for key in ("uln", "master_uln"):
        if key in personal and key in state:
            values[key] = state[key] is not None
    if "warnings" in values:
        values["warnings"] = [{"code": w["code"], "field": w["field"]}
                              for w in values["warnings"] or []]
    return values


@settings(deadline=None)  # a property, not a timing: a busy host must not fail it
@given(EVENTS, st.lists(st.dictionaries(ATTRIBUTES, VALUES, max_size=6), min_size=1, max_size=4),
       WARNINGS)
def test_each_fact_keeps_the_events_impersonal_values_whatever_its_attributes(
        name, states, warnings):
    # the same event class with different attributes in turn (as an older version stored it)
    timeline = new_timeline("learner")
    for position, state in enumerate(states, start=1):
        if "warnings" in state:
            state["warnings"] = warnings
        state = {**state, "occurred_on": "2026-01-01", "timestamp": "2026-01-01T00:00:00+00:00",
                 "centre": "C1", "reference": "L1"}
        apply_entry(timeline, Entry(position, "learner", position, name, state))
        fact = timeline["facts"][-1]
        assert fact["values"] == expected_values(name, state)
        assert list(fact["values"]) == list(expected_values(name, state))
