"""Stored learner events read straight from their JSON: plain values, nothing guessed."""

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.learner import Learner
from ledger.privacy.keys import ENCRYPTED
from ledger.reporting.plain_events import (
    UnreadableState,
    date_attributes,
    entries_of_rows,
    plain_state,
)

TOPIC = "aggregates.learner:Learner.Withdrawn"


def test_dates_become_their_iso_text_and_sealed_values_are_only_marked_given():
    state = (b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05+00:00"},'
             b'"left_on":{"_type_":"date_iso","_data_":"2026-01-01"},"units":["U1"],'
             b'"_sealed":{"v":1,"data":"xx","shape":{"note":null,"warnings.message":null}}}')
    assert plain_state(7, state) == {
        "timestamp": "2026-01-02T03:04:05+00:00", "left_on": "2026-01-01", "units": ["U1"],
        "note": ENCRYPTED,
    }


def test_a_value_of_a_type_the_reports_cannot_read_is_refused_naming_the_event():
    state = b'{"amount":{"_type_":"decimal_str","_data_":"1.5"}}'
    with pytest.raises(UnreadableState, match="event 7 holds a 'decimal_str' value"):
        plain_state(7, state)


def test_wrapped_values_deeper_down_are_unwrapped_or_refused_too():
    state = (b'{"left_on":{"_type_":"date_iso","_data_":"2026-01-01"},'
             b'"steps":[{"on":{"_type_":"date_iso","_data_":"2026-01-02"}}]}')
    assert plain_state(7, memoryview(state)) == {
        "left_on": "2026-01-01", "steps": [{"on": "2026-01-02"}]}
    state = b'{"steps":[{"amount":{"_type_":"decimal_str","_data_":"1.5"}}]}'
    with pytest.raises(UnreadableState, match="event 7 holds a 'decimal_str' value"):
        plain_state(7, state)


def test_a_mapping_with_a_type_key_but_no_data_is_a_plain_mapping():
    state = b'{"flag":{"_type_":"date_iso","other":1}}'
    assert plain_state(7, state) == {"flag": {"_type_": "date_iso", "other": 1}}


def test_text_that_looks_like_a_wrapper_inside_a_string_is_left_as_it_is():
    state = b'{"note":"{\\"_type_\\":\\"decimal_str\\"}"}'
    assert plain_state(7, state) == {"note": '{"_type_":"decimal_str"}'}


def test_rows_keep_their_position_learner_and_event_name():
    learner = bytes(range(16))
    (entry,) = entries_of_rows([(9, learner, 3, TOPIC, b'{"reason":"moved"}')])
    assert (entry.position, entry.learner_id, entry.version, entry.name, entry.state) == (
        9, "00010203-0405-0607-0809-0a0b0c0d0e0f", 3, "Withdrawn", {"reason": "moved"})


def test_a_row_that_is_not_a_learner_event_is_refused():
    with pytest.raises(UnreadableState, match="event 4"):
        entries_of_rows([(4, "id", 1, "aggregates.learner:LearnerReference.Created", b"{}")])


@pytest.mark.parametrize("state", [
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05+00:00"},'
    b'"_sealed":{"v":1,"data":"xx","shape":{"note":null}}}',
    b'{"steps":[{"on":{"_type_":"date_iso","_data_":"2026-01-02"}}],"units":[]}',
    '{"reason":"d\u00e9m\u00e9nag\u00e9 \u2013 Cymru",'
    '"on":{"_type_":"date_iso","_data_":"2026-01-01"}}'.encode(),
    b'{"note":"{\\"_type_\\":\\"date_iso\\"}","flag":{"_type_":"date_iso","other":1}}',
])
def test_a_state_read_as_text_gives_what_its_stored_bytes_give(state):
    # PostgreSQL's scans read the stored JSON as text (ledger.storage.raw_rows.json_text_column)
    assert plain_state(7, state.decode()) == plain_state(7, state) == plain_state(
        7, memoryview(state))


def test_a_value_the_reports_cannot_read_is_refused_when_read_as_text_too():
    state = '{"steps":[{"amount":{"_type_":"decimal_str","_data_":"1.5"}}]}'
    with pytest.raises(UnreadableState, match="event 7 holds a 'decimal_str' value"):
        plain_state(7, state)


WRAPPED = st.sampled_from([
    {"_type_": "date_iso", "_data_": "2026-01-02"},
    {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"},
    {"_type_": "decimal_str", "_data_": "1.5"},  # one the reports cannot read
    {"_type_": "date_iso", "other": 1},  # not a wrapper: a plain mapping
    {"_type_": "date_iso", "_data_": "2026-01-02", "more": 2},  # nor this
])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-9, 9) | st.text(max_size=5) | WRAPPED,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=6,
)
NAMES = st.sampled_from(["timestamp", "occurred_on", "left_on", "units", "note", "x"])


def outcome(state: bytes, dates: list[str] | None) -> object:
    try:
        return plain_state(7, state, dates)
    except UnreadableState as error:
        return str(error)


@settings(deadline=None)  # a property, not a timing: a busy host must not fail it
@given(st.dictionaries(NAMES, VALUES, max_size=5), st.lists(NAMES, max_size=4, unique=True))
def test_the_date_attributes_named_change_nothing_but_the_time_taken(attributes, dates):
    # whichever attributes are named, right or wrong, every wrapped value is still found
    state = orjson.dumps(attributes)
    assert outcome(state, dates) == outcome(state, None)


def test_the_date_attributes_of_an_event_class_are_those_it_declares():
    assert date_attributes(Learner.Withdrawn) == (
        "timestamp", "left_on", "notified_on", "occurred_on")
    assert date_attributes(Learner.AssessmentStarted) == ("timestamp", "occurred_on")


AMENDED = "aggregates.learner:Learner.DetailsAmended"


def test_an_amendment_stored_before_version_2_reads_as_having_no_warnings():
    (entry,) = entries_of_rows([(9, bytes(16), 3, AMENDED, b'{"field":"family_name"}')])
    assert entry.state == {"field": "family_name", "warnings": []}


def test_an_amendment_stored_at_version_2_keeps_its_warnings_and_drops_the_version():
    state = b'{"field":"family_name","warnings":[{"code":"name-capitals"}],"class_version":2}'
    (entry,) = entries_of_rows([(9, bytes(16), 3, AMENDED, state)])
    assert entry.state == {"field": "family_name", "warnings": [{"code": "name-capitals"}]}


def test_the_library_upcasts_a_version_1_amendment_the_same_way():
    state = {"field": "family_name"}
    Learner.DetailsAmended.upcast_v1_v2(state)
    assert state == {"field": "family_name", "warnings": []}
