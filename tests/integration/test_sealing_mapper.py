"""The sealing mapper: any personal value goes in sealed and comes back equal (SQLite)."""

import json
from datetime import date
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.learner import Context, Learner
from ledger.app import LedgerApp
from ledger.sealing import ENVELOPE, personal_attributes

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
