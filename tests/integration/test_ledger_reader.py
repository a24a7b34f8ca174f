"""The read-only reader (`ledger audit`'s) reads what the application recorded, alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from aggregates.errors import AmbiguousLearner, UnknownLearner
from aggregates.learner import Context
from ledger.app import LedgerApp
from ledger.integrity.stamps import stamps_of
from ledger.reader import LedgerReader

CTX = Context(actor="officer", source="test")


def record(app: LedgerApp) -> None:
    """One learner at two centres (an ambiguous reference), personal data, a retraction."""
    for centre in ("C1", "C2"):
        app.add_learner(CTX, centre, "L1", given_name="Siân", family_name="Quill",
                        date_of_birth="2004-05-06", gender="2", postcode="SW1A 1AA")
    positions = app.enrol(CTX, "L1", "E1", centre="C1", awarding_body="IMI",
                          qualification="603/1234/5", title="Diploma", start="2026-09-01",
                          planned_end="2027-07-01")
    app.retract(CTX, positions[0], "keyed against the wrong learner")
    app.amend(CTX, "L1", {"family_name": "Quill-Smith"}, "deed poll", centre="C1")


Pair = tuple[LedgerApp, LedgerReader]


@pytest.fixture
def both(make_app: Callable[[], LedgerApp]) -> Iterator[Pair]:
    """The application that recorded, and a reader opened on the same database."""
    app = make_app()
    record(app)
    reader = LedgerReader(app.url)
    yield app, reader
    reader.close()


def test_the_reader_finds_the_same_events_as_the_application(both: Pair) -> None:
    app, reader = both
    centre, events = reader.learner_history("L1", "C1")
    assert (centre, events) == app.learner_history("L1", "C1")
    assert [type(event).__name__ for _, event in events] == [
        "Recorded", "Enrolled", "Retracted", "DetailsAmended"]
    assert events[0][1].details["given_name"] == "Siân"  # opened with the master key


def test_the_reader_reads_the_same_stamps_as_the_application(both: Pair) -> None:
    app, reader = both
    positions = [position for position, _ in app.learner_history("L1", "C1")[1]]
    stamps = reader.stamps(positions)
    assert stamps == stamps_of(app, positions)
    assert sorted(stamps) == positions and all(stamp.at for stamp in stamps.values())


def test_the_reader_names_the_centres_of_an_ambiguous_or_unknown_reference(both: Pair) -> None:
    _, reader = both
    with pytest.raises(AmbiguousLearner, match="centres C1, C2"):
        reader.learner_history("L1")
    with pytest.raises(UnknownLearner):
        reader.learner_history("L9")
    with pytest.raises(UnknownLearner, match="at centre C3"):
        reader.learner_history("L1", "C3")
