"""Loading the learners a batch touches, and saving a batch's changes in one transaction."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent
from sqlalchemy import select

from aggregates.errors import ConcurrencyConflict
from aggregates.learner import Learner, LearnerReference, learner_id
from ledger.app import LedgerApp
from ledger.imports.problems import RowError, RowProblem
from ledger.imports.rows import ParsedRow
from ledger.imports.spool import Event

MAX_ATTEMPTS = 10
LOAD_CHUNK = 500


class BatchPlanner(Protocol):
    """Plans rows onto learners (see runner.Planner)."""

    def apply(self, learners: dict[UUID, Learner | None], row: ParsedRow) -> None: ...


P = TypeVar("P", bound=BatchPlanner)


def load_learners(app: LedgerApp, ids: Iterable[UUID]) -> dict[UUID, Learner | None]:
    """The learners with these ids as the ledger holds them now (None when not recorded)."""
    return load_aggregates(app, ids)  # type: ignore[return-value]


def load_aggregates(app: LedgerApp, ids: Iterable[UUID]) -> dict[UUID, Aggregate | None]:
    """Several aggregates in one query per chunk of ids (None for ids with no events)."""
    wanted = list(ids)
    found: dict[UUID, Aggregate | None] = dict.fromkeys(wanted)
    record = getattr(app.recorder, "events_record_cls", None)
    if record is None:  # another recorder: fall back to the repository, one by one
        for key in wanted:
            try:
                found[key] = app.repository.get(key)
            except AggregateNotFoundError:
                found[key] = None
        return found
    for start in range(0, len(wanted), LOAD_CHUNK):
        chunk = wanted[start:start + LOAD_CHUNK]
        query = (
            select(record.originator_id, record.originator_version, record.topic, record.state)
            .where(record.originator_id.in_(chunk))
            .order_by(record.originator_id, record.originator_version)
        )
        with app.engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            event = app.mapper.to_domain_event(_stored(row))
            key = UUID(str(row.originator_id))
            found[key] = event.mutate(found[key])  # type: ignore[attr-defined]
    return found


def _stored(row: Any) -> StoredEvent:
    state = bytes(row.state) if isinstance(row.state, memoryview) else row.state
    return StoredEvent(originator_id=row.originator_id, originator_version=row.originator_version,
                       topic=row.topic, state=state)


def load_references(app: LedgerApp, references: set[str]) -> dict[str, LearnerReference]:
    """The reference index aggregates (new ones for references never used)."""
    ids = {LearnerReference.create_id(reference): reference for reference in references}
    loaded = load_aggregates(app, ids)
    indexes: dict[str, LearnerReference] = {}
    for key, reference in ids.items():
        index = loaded[key]
        indexes[reference] = (index if isinstance(index, LearnerReference)
                              else LearnerReference(reference=reference))
    return indexes


def save_events(app: LedgerApp, events: Sequence[Event]) -> int:
    """Save events atomically, straight into the event store.

    `Application.save` would do the same, but first tests every object it is given against
    two runtime-checkable protocols, which costs more than storing a small event.
    """
    if not events:
        return 0
    return len(app.events.put(events))


def restamp(events: Sequence[Event], recorded: datetime) -> None:
    """Give planned events the moment they are saved as their recorded time.

    An event's timestamp is when the ledger recorded it: `--as-at` shows what the ledger knew
    then. Events planned during the check are not yet recorded, so they take the time of
    the transaction that saves them. They have never been stored, so nothing is rewritten.
    """
    for event in events:
        object.__setattr__(event, "timestamp", recorded)


class BatchWriter:
    """Writes batches: load, plan, save in one transaction; re-plan if another writer interfered."""

    def __init__(self, app: LedgerApp) -> None:
        self.app = app

    def write_planned(self, events: Sequence[Event]) -> bool:
        """Save the check's plan of a batch as it is, stamped with the time it is saved.

        The plan holds for each learner the events that follow the version the check read.
        If any learner has moved on since (another writer, or an earlier batch whose plan
        was not this one's starting point), its first planned version is taken and the
        whole batch is refused (False): the caller plans it again against the ledger.
        """
        restamp(events, datetime.now(UTC))
        new = [(event.reference, event.centre) for event in events
               if isinstance(event, Learner.Recorded)]
        return self._save(events, new)

    def write(self, rows: list[ParsedRow], make_planner: Callable[[], P]
              ) -> tuple[P, list[RowProblem]]:
        """Write the rows' new facts; returns the planner used and rows the ledger refused."""
        ids = {learner_id(row.centre, row.reference) for row in rows}
        for _ in range(MAX_ATTEMPTS):
            planner = make_planner()
            learners = load_learners(self.app, ids)
            existed = {key for key, learner in learners.items() if learner is not None}
            refused: list[RowProblem] = []
            for row in rows:
                try:
                    planner.apply(learners, row)
                except RowError as error:
                    refused.extend(error.problems(row.line))
            events = [event for learner in learners.values() if learner is not None
                      for event in learner.collect_events()]
            new = [(learner.reference, learner.centre) for key, learner in learners.items()
                   if key not in existed and learner is not None]
            saved = self._save(events, new)
            self.app.keys.forget(ids)  # keys opened while loading, too
            if saved:
                return planner, refused
            time.sleep(random.uniform(0, 0.05))
        raise ConcurrencyConflict("other writers kept changing the same learners; run the "
                                  "import again to finish")

    def _save(self, events: Sequence[Event], new: Sequence[tuple[str, str]]) -> bool:
        """Save learners' events with the reference index of the new ones (reference, centre)
        in one transaction; False if another writer took one of their versions first."""
        indexes = load_references(self.app, {reference for reference, _ in new})
        for reference, centre in new:
            indexes[reference].add_centre(centre)
        index_events = [event for index in indexes.values() for event in index.collect_events()]
        learners = {event.originator_id for event in events}
        self.app.keys.prepare_for_writing(learners)
        try:
            save_events(self.app, [*events, *index_events])
        except IntegrityError:
            return False
        finally:
            self.app.keys.forget(learners)
        return True
