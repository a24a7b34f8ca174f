"""Loading the learners a batch touches, and saving a batch's changes in one transaction."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from aggregates.errors import ConcurrencyConflict
from aggregates.learner import Learner, LearnerReference, learner_id
from ledger.app import LedgerApp
from ledger.imports.problems import RowError, RowProblem
from ledger.imports.rows import ParsedRow

MAX_ATTEMPTS = 10


class BatchPlanner(Protocol):
    """Plans rows onto learners (see runner.Planner)."""

    def apply(self, learners: dict[UUID, Learner | None], row: ParsedRow) -> None: ...


def load_learners(app: LedgerApp, ids: Iterable[UUID]) -> dict[UUID, Learner | None]:
    """The learners with these ids as the ledger holds them now (None when not recorded)."""
    found: dict[UUID, Learner | None] = {}
    for key in ids:
        try:
            learner = app.repository.get(key)
        except AggregateNotFoundError:
            learner = None
        found[key] = learner
    return found


def load_reference(app: LedgerApp, reference: str) -> LearnerReference:
    """The reference index aggregate (new when the reference was never used)."""
    try:
        index = app.repository.get(LearnerReference.create_id(reference))
    except AggregateNotFoundError:
        return LearnerReference(reference=reference)
    assert isinstance(index, LearnerReference)
    return index


def save_batch(app: LedgerApp, aggregates: Sequence[Aggregate]) -> int:
    """Save several aggregates' pending events atomically; the number of events saved."""
    if not aggregates:
        return 0
    recordings = app.save(*aggregates)
    return len(recordings)


class BatchWriter:
    """Writes batches: load, plan, save in one transaction; re-plan if another writer interfered."""

    def __init__(self, app: LedgerApp) -> None:
        self.app = app

    def write(self, rows: list[ParsedRow], make_planner: Callable[[], BatchPlanner]
              ) -> tuple[BatchPlanner, list[RowProblem]]:
        """Write the rows' new facts; returns the planner used and rows the ledger refused."""
        keys = {learner_id(row.centre, row.reference) for row in rows}
        for _ in range(MAX_ATTEMPTS):
            planner = make_planner()
            learners = load_learners(self.app, keys)
            existed = {key for key, learner in learners.items() if learner is not None}
            refused: list[RowProblem] = []
            for row in rows:
                try:
                    planner.apply(learners, row)
                except RowError as error:
                    refused.append(RowProblem(row.line, error.column, error.reason))
            changed: list[Aggregate] = [
                learner for learner in learners.values()
                if learner is not None and learner.pending_events
            ]
            indexes: dict[str, LearnerReference] = {}
            for key, learner in learners.items():
                if key not in existed and learner is not None:
                    reference = learner.reference
                    if reference not in indexes:
                        indexes[reference] = load_reference(self.app, reference)
                    indexes[reference].add_centre(learner.centre)
            changed.extend(index for index in indexes.values() if index.pending_events)
            try:
                save_batch(self.app, changed)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.05))
                continue
            return planner, refused
        raise ConcurrencyConflict("other writers kept changing the same learners; run the "
                                  "import again to finish")

