"""The sealing mapper: any personal value goes in sealed and comes back equal (SQLite)."""

import json
from datetime import UTC, date
from functools import cache

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.learner import Context, Learner, LearnerReference, personal_attributes
from ledger.app import LedgerApp
from ledger.privacy.sealing import ENVELOPE
from ledger.storage.transcoding import register_ledger_transcodings

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


warnings = st.lists(st.fixed_dictionaries({"code": st.sampled_from(["W1", "W2"]),
                                           "message": texts}), max_size=2)


def library_json() -> JSONTranscoder:
    """The library's own JSON transcoder with the ledger's transcodings: the oracle."""
    transcoder = JSONTranscoder()
    register_ledger_transcodings(transcoder)
    return transcoder


def expected_state(event, sealed_data: str | None) -> bytes:
    """What the stored state must be, built from the event by the rules, not by the mapper:
    the event's attributes but its originator's, personal values taken out (and warnings'
    messages where they quote them), their envelope last."""
    state = {key: value for key, value in vars(event).items()
             if key not in ("originator_id", "originator_version")}
    name = type(event).__name__
    personal = [a for a in personal_attributes(name) if state.get(a) is not None]
    quotes = name in ("Recorded", "Enrolled", "DetailsAmended") and state.get("warnings")
    shape = {attribute: None for attribute in personal}
    for attribute in personal:
        if isinstance(state[attribute], dict):
            shape[attribute] = list(state[attribute])
        del state[attribute]
    if quotes:
        state["warnings"] = [{**w, "message": None} for w in state["warnings"]]
        shape["warnings.message"] = None
    if getattr(type(event), "class_version", 1) > 1:  # as the library's mapper adds it
        state["class_version"] = type(event).class_version
    if sealed_data is not None:
        state[ENVELOPE] = {"v": 1, "data": sealed_data, "shape": shape}
    return library_json().encode(state)


def assert_stored_by_the_rules(events, stored) -> None:
    for event, kept in zip(events, stored, strict=True):
        envelope = json.loads(kept.state).get(ENVELOPE)
        assert kept.state == expected_state(event, envelope and envelope["data"])
        assert (kept.originator_id, kept.originator_version, kept.topic) == (
            event.originator_id, event.originator_version, get_topic(type(event)))


@settings(max_examples=40, deadline=None)
@given(given_name=texts, note=texts, title=texts, record_warnings=warnings,
       enrol_warnings=warnings, units=st.lists(texts, max_size=3),
       recorded=st.datetimes(timezones=st.just(UTC)))
def test_events_are_stored_as_the_library_writes_their_state_sealed_or_prepared(
    given_name, note, title, record_warnings, enrol_warnings, units, recorded
):
    """Stored directly, or prepared in an import's check and finished when stored (stamped
    then): the bytes are the library's JSON of the state the rules give, sealed or not,
    warnings quoting values or not, for a learner's events and the reference index's."""
    mapper = app().sealing_mapper
    ctx = Context("officer", "test", note)
    learner = Learner.record("C1", "L1", {"given_name": given_name, "family_name": "Lee",
                                          "date_of_birth": date(2000, 1, 1), "gender": 2},
                             None, record_warnings, date(2026, 1, 1), ctx)
    learner.enrol("E1", "IMI", "603/1234/5", title, units, date(2026, 1, 5),
                  date(2026, 9, 1), False, enrol_warnings, ctx)
    learner.amend("family_name", given_name, note, date(2026, 1, 6), ctx, record_warnings)
    learner.submit_registration("E1", date(2026, 1, 7), ctx)
    index = LearnerReference.start("L1")
    index.add_centre("C1")
    events = learner.collect_events() + index.collect_events()
    prepared = [mapper.prepare(event) for event in events]
    assert_stored_by_the_rules(events, [mapper.to_stored_event(event) for event in events])
    for event in events:
        object.__setattr__(event, "timestamp", recorded)
    finished = [mapper.finish(p, mapper.transcoder.encode(recorded)) for p in prepared]
    assert_stored_by_the_rules(events, finished)
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


class Versioned(Aggregate):
    """An aggregate whose event was changed once, so its class is at version 2."""

    class Noted(Aggregate.Event):
        class_version = 2
        text: str
        on: date

        def apply(self, aggregate: Aggregate) -> None:
            aggregate.text = self.text  # type: ignore[attr-defined]

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["on"] = "2026-01-01"

    def note(self, text: str, on: date) -> None:
        self.trigger_event(self.Noted, text=text, on=on)


def test_an_event_at_a_later_class_version_is_stored_as_the_library_stores_it():
    aggregate = Versioned()
    aggregate.note("seen", date(2026, 3, 4))
    events = aggregate.collect_events()
    mapper = app().sealing_mapper
    library = Mapper(library_json())
    for domain_event in events:
        stored = mapper.to_stored_event(domain_event)
        assert stored.state == library.to_stored_event(domain_event).state
        assert vars(mapper.to_domain_event(stored)) == vars(domain_event)
    assert b'"class_version":2' in mapper.to_stored_event(events[-1]).state
