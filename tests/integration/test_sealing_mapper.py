"""The sealing mapper: any personal value goes in sealed and comes back equal (SQLite)."""

import json
import re
from datetime import UTC, date
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.learner import Context, Learner, LearnerReference, personal_attributes
from ledger.app import LedgerApp
from ledger.sealing import ENVELOPE

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                min_size=1, max_size=30).map(lambda s: "§" + s)  # § never occurs otherwise


@cache
def app() -> LedgerApp:
    return LedgerApp("sqlite:///:memory:")


def stored_text(stored) -> str:
    return stored.state.decode()


@settings(max_examples=40, deadline=None)
@given(given_name=texts, family_name=texts, note=texts, postcode=texts,
       born=st.dates(date(1900, 1, 1), date(2020, 1, 1)))
def test_personal_values_round_trip_sealed_and_never_show_in_the_stored_state(
    given_name, family_name, note, postcode, born
):
    details = {"given_name": given_name, "family_name": family_name, "date_of_birth": born,
               "gender": 1, "postcode": postcode}
    learner = Learner.record("C1", f"L{abs(hash(note)) % 10**9}", details, "1000000043", [],
                             date(2026, 1, 1), Context("officer", "test", note))
    learner.amend("family_name", family_name + given_name, note, date(2026, 1, 2),
                  Context("o", "t", note))
    for event in learner.collect_events():
        stored = app().mapper.to_stored_event(event)
        state = json.loads(stored_text(stored))
        assert not set(personal_attributes(type(event).__name__)) & set(state)
        assert ENVELOPE in state
        for value in (given_name, family_name, note, postcode, born.isoformat()):
            assert json.dumps(value)[1:-1] not in stored_text(stored)
            assert value not in stored_text(stored)
        assert vars(app().mapper.to_domain_event(stored)) == vars(event)


def _without_ciphertext(state: bytes) -> bytes:
    """The stored JSON with the sealed envelope's ciphertext left out (its nonce is random)."""
    return re.sub(rb'"data":"[A-Za-z0-9+/=]*"', b'"data":""', state)


warnings = st.lists(st.fixed_dictionaries({"code": st.sampled_from(["W1", "W2"]),
                                           "message": texts}), max_size=2)


@settings(max_examples=40, deadline=None)
@given(given_name=texts, note=texts, title=texts, record_warnings=warnings,
       enrol_warnings=warnings, units=st.lists(texts, max_size=3),
       recorded=st.datetimes(timezones=st.just(UTC)))
def test_an_event_prepared_then_finished_is_stored_as_the_mapper_stores_it(
    given_name, note, title, record_warnings, enrol_warnings, units, recorded
):
    """The import prepares events in its check and finishes them when storing: the bytes
    are the mapper's for the event stamped then, sealed or not, warnings quoting values
    or not, for a learner's events and the reference index's."""
    mapper = app().sealing_mapper
    ctx = Context("officer", "test", note)
    learner = Learner.record("C1", "L1", {"given_name": given_name, "family_name": "Lee",
                                          "date_of_birth": date(2000, 1, 1), "gender": 2},
                             None, record_warnings, date(2026, 1, 1), ctx)
    learner.enrol("E1", "IMI", "603/1234/5", title, units, date(2026, 1, 5),
                  date(2026, 9, 1), False, enrol_warnings, ctx)
    learner.amend("family_name", given_name, note, date(2026, 1, 6), ctx)
    learner.submit_registration("E1", date(2026, 1, 7), ctx)
    index = LearnerReference.start("L1")
    index.add_centre("C1")
    events = learner.collect_events() + index.collect_events()
    finished = [mapper.finish(mapper.prepare(event), mapper.transcoder.encode(recorded))
                for event in events]
    for event in events:
        object.__setattr__(event, "timestamp", recorded)
    stored = [mapper.to_stored_event(event) for event in events]
    assert [(s.originator_id, s.originator_version, s.topic) for s in finished] == [
        (s.originator_id, s.originator_version, s.topic) for s in stored]
    assert [_without_ciphertext(s.state) for s in finished] == [
        _without_ciphertext(s.state) for s in stored]
    assert [vars(mapper.to_domain_event(s)) for s in finished] == [vars(e) for e in events]
    assert sum(ENVELOPE.encode() in s.state for s in finished) >= 2  # sealing was exercised


def test_an_event_whose_state_does_not_begin_with_its_timestamp_is_not_prepared():
    learner = Learner.record("C1", "L1", {"given_name": "Ann", "family_name": "Lee",
                                          "date_of_birth": date(2000, 1, 1), "gender": 2},
                             None, [], date(2026, 1, 1), Context("officer", "test"))
    event = learner.collect_events()[0]
    state = vars(event)
    timestamp = state.pop("timestamp")
    state["timestamp"] = timestamp  # now last
    with pytest.raises(TypeError, match="must begin with"):
        app().sealing_mapper.prepare(event)
