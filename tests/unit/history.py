"""In-memory learner histories for unit tests: real aggregate events, numbered positions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date
from typing import Any

from aggregates.learner import Context, Learner
from projections.timeline import Timeline, apply_event, new_timeline

CTX = Context(actor="tester", source="unit test")


def replayed(events: Iterable[Any]) -> Any:
    """The aggregate rebuilt from its events, as the repository would (the library's mutate)."""
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


class MemoryLedger:
    """Learners whose events get global positions in the order they were produced."""

    def __init__(self) -> None:
        self.positions = itertools.count(1)
        self.learners: list[History] = []

    def learner(self, reference: str = "L1", centre: str = "C1", *, given_name: str = "Ada",
                family_name: str = "Lovelace", born: date = date(2000, 1, 1),
                uln: str | None = None, warnings: list[dict[str, str]] | None = None,
                ) -> History:
        details = {"given_name": given_name, "family_name": family_name,
                   "date_of_birth": born, "gender": 2}
        learner = Learner.record(centre, reference, details, uln, warnings or [],
                                 date(2026, 3, 1), CTX)
        history = History(self, learner)
        self.learners.append(history)
        return history

    def timelines(self) -> list[Timeline]:
        return [history.timeline() for history in self.learners]


class History:
    """One learner: call aggregate commands; remember each event with its position."""

    def __init__(self, ledger: MemoryLedger, learner: Learner) -> None:
        self.ledger = ledger
        self.learner = learner
        self.events: list[tuple[int, Any]] = []
        self._collect()

    def _collect(self) -> list[int]:
        new = [(next(self.ledger.positions), e) for e in self.learner.collect_events()]
        self.events.extend(new)
        return [p for p, _ in new]

    def __getattr__(self, command: str) -> Any:
        method = getattr(self.learner, command)

        def run(*args: Any, **kwargs: Any) -> int:
            method(*args, ctx=CTX, **kwargs)
            return self._collect()[-1]

        return run

    def enrol_on(self, ref: str, body: str, start: date, end: date,
                 warnings: list[dict[str, str]] | None = None) -> int:
        return self.enrol(ref, body, "603/0000/1", "Certificate", [], start, end, False,
                          warnings or [])

    def version_at(self, position: int) -> int:
        return next(e.originator_version for p, e in self.events if p == position)

    def retract_at(self, position: int, on: date = date(2026, 6, 1)) -> int:
        return self.retract(self.version_at(position), "recorded in error", on)

    def timeline(self) -> Timeline:
        timeline = new_timeline(str(self.learner.id))
        for position, event in self.events:
            apply_event(timeline, position, event)
        return timeline
