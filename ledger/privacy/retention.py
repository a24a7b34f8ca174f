"""Retention: which learners' records are past the period their rule sets keep them for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import select

from aggregates.errors import InvalidValue
from aggregates.learner import Learner
from ledger.rules.rulesets import RuleBook

if TYPE_CHECKING:
    from ledger.app import LedgerApp

RECORDED_TOPIC = f"{Learner.__module__}:{Learner.__qualname__}.Recorded"


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Retention:
    """How long one learner's records are kept, and why."""

    learner_id: UUID
    reference: str
    centre: str
    ended_on: date | None
    basis: str
    keep_until: date | None

    def due(self, on: date) -> bool:
        return self.keep_until is not None and on > self.keep_until

    def as_row(self) -> dict[str, object]:
        return {"learner": self.reference, "centre": self.centre, "ended_on": self.ended_on,
                "basis": self.basis, "keep_until": self.keep_until}


def enrolment_end(learner: Learner, ref: str) -> tuple[date, str] | None:
    """When an enrolment ended: withdrawal (leaving date) or certificate issued; else None."""
    withdrawn = learner.latest("withdrawn", ref)
    if withdrawn is not None:
        return withdrawn.values["left_on"], f"{ref} withdrawn"
    done = [f for kind in ("certificate-issued", "certificate-collected")
            if (f := learner.latest(kind, ref)) is not None]
    if done:
        return max(f.occurred_on for f in done), f"{ref} certificated"
    return None


def retention_of(learner: Learner, book: RuleBook) -> Retention:
    """The learner's retention: ends with the last enrolment; open enrolments keep it all."""
    refs = learner.enrolment_refs
    if not refs:
        recorded = learner.facts[0].occurred_on
        until = add_years(recorded, book.retention_years(None))
        return Retention(learner.id, learner.reference, learner.centre, recorded,
                         "recorded, never enrolled", until)
    ends = []
    for ref in refs:
        end = enrolment_end(learner, ref)
        if end is None:
            return Retention(learner.id, learner.reference, learner.centre, None,
                             f"{ref} still open", None)
        years = book.retention_years(learner.enrolment(ref).values["awarding_body"])
        ends.append((add_years(end[0], years), end[0], end[1]))
    until, ended, basis = max(ends)
    return Retention(learner.id, learner.reference, learner.centre, ended, basis, until)


def check_erasure_date(on: date, today: date) -> None:
    """Erasure is irreversible: it uses only what has ended by today. A later `--on` date
    is for listing what will be due, never for erasing it early."""
    if on > today:
        raise InvalidValue("on", f"--erase erases only what has ended by today "
                                 f"({today.isoformat()}); {on.isoformat()} is in the future: "
                                 "--on is for listing")


def learner_ids(app: LedgerApp) -> Iterator[UUID]:
    """Every recorded learner's id, in the order they were recorded."""
    record = app.recorder.events_record_cls  # type: ignore[attr-defined]
    query = select(record.originator_id).where(record.topic == RECORDED_TOPIC).order_by(record.id)
    with app.engine.connect() as connection:
        for row in connection.execute(query):
            yield UUID(str(row.originator_id))


def learners_due(app: LedgerApp, on: date, book: RuleBook) -> list[Retention]:
    """Learners not yet erased whose records are past their retention period on `on`."""
    due = []
    for learner_id in learner_ids(app):
        learner = app.repository.get(learner_id)
        assert isinstance(learner, Learner)
        if learner.latest("erased") is None:
            retention = retention_of(learner, book)
            if retention.due(on):
                due.append(retention)
    return due
