"""The access log: a view of a learner's personal data is an event on their history, which
no report reads and no one can retract."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.errors import ImpossibleCommand, InvalidValue
from ledger.rules.rulesets import load_rulebook
from projections.late_registrations import late_registrations
from projections.maladministration import maladministration
from tests.unit.history import MemoryLedger, replayed

ON = date(2026, 12, 1)


def enrolled(ledger: MemoryLedger, reference: str = "L1") -> object:
    learner = ledger.learner(reference)
    learner.enrol_on("E1", "IMI", date(2026, 4, 1), date(2027, 1, 29))
    learner.submit_registration("E1", date(2026, 8, 14))
    return learner


def test_a_view_is_one_event_naming_the_viewer_their_role_and_the_page() -> None:
    learner = enrolled(MemoryLedger())
    learner.record_view("officer", "learner", ON)
    event = learner.events[-1][1]
    assert type(event).__name__ == "PersonalDataViewed"
    assert (event.role, event.page, event.occurred_on, event.actor) == (
        "officer", "learner", ON, "tester")
    assert replayed(e for _, e in learner.events).facts[-1].kind == "viewed"


def test_a_view_cannot_be_retracted() -> None:
    learner = enrolled(MemoryLedger())
    position = learner.record_view("auditor", "replay", ON)
    with pytest.raises(ImpossibleCommand, match="cannot be retracted"):
        learner.retract_at(position)


def test_a_view_needs_a_role_and_a_page() -> None:
    learner = enrolled(MemoryLedger())
    with pytest.raises(InvalidValue):
        learner.record_view("", "learner", ON)


@settings(deadline=None, max_examples=30)
@given(views=st.lists(st.sampled_from(["L1", "L2"]), max_size=12))
def test_views_change_no_report(views: list[str]) -> None:
    book = load_rulebook()
    plain, viewed = MemoryLedger(), MemoryLedger()
    for ledger in (plain, viewed):
        enrolled(ledger, "L1")
        enrolled(ledger, "L2")
    for reference in views:
        history = next(h for h in viewed.learners if h.learner.reference == reference)
        history.record_view("officer", "learner", ON)
    assert late_registrations(plain.timelines(), book, ON) == late_registrations(
        viewed.timelines(), book, ON)
    assert maladministration(plain.timelines(), book, ON) == maladministration(
        viewed.timelines(), book, ON)
