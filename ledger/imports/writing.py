"""Loading the learners a batch touches, and saving a batch's changes in one transaction."""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from aggregates.errors import ConcurrencyConflict
from aggregates.learner import Learner, LearnerReference, learner_id
from ledger.imports.problems import RowError, RowProblem
from ledger.imports.rows import ParsedRow
from ledger.imports.spool import BatchPlan, Event
from ledger.imports.tally import Tally
from ledger.integrity.chained_recorder import PackedEvents
from ledger.privacy.sealing import PreparedEvent
from ledger.storage.raw_rows import driver_rows, placeholder, uuid_text

if TYPE_CHECKING:
    from ledger.app import LedgerApp

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
    sqlite = app.engine.dialect.name == "sqlite"  # its column holds 16 bytes, not a UUID
    for start in range(0, len(wanted), LOAD_CHUNK):
        chunk = wanted[start:start + LOAD_CHUNK]
        rows = driver_rows(app.engine, _events_of_sql(app, record.__table__, len(chunk)),
                           [key.bytes if sqlite else str(key) for key in chunk])
        ids_read: dict[Any, UUID] = {}
        for originator, version, topic, state in rows:
            key = ids_read.get(originator)
            if key is None:
                key = ids_read[originator] = UUID(uuid_text(originator))
            stored = StoredEvent(originator_id=key, originator_version=version, topic=topic,
                                 state=bytes(state))
            event = app.mapper.to_domain_event(stored)
            found[key] = event.mutate(found[key])  # type: ignore[attr-defined]
    return found


def _events_of_sql(app: LedgerApp, table: Any, count: int) -> str:
    """The stored events of `count` aggregates, in order, read through the driver: through
    SQLAlchemy, binding and converting each id cost three times as much as the query."""
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    return (f"SELECT originator_id, originator_version, topic, state FROM {name} "
            f"WHERE originator_id IN ({','.join([placeholder(app.engine)] * count)}) "
            "ORDER BY originator_id, originator_version")


def load_references(app: LedgerApp, references: set[str]) -> dict[str, LearnerReference]:
    """The reference index aggregates (new ones for references never used)."""
    ids = {LearnerReference.create_id(reference): reference for reference in references}
    loaded = load_aggregates(app, ids)
    indexes: dict[str, LearnerReference] = {}
    for key, reference in ids.items():
        index = loaded[key]
        indexes[reference] = (index if isinstance(index, LearnerReference)
                              else LearnerReference.start(reference))
    return indexes


@dataclass
class StoredPlan:
    """A batch's plan encoded for storing, with the plan's counts."""

    rows: int = 0
    events: PackedEvents = field(default_factory=PackedEvents)  # as the recorder stores them
    keys: list[dict[str, Any]] = field(default_factory=list)  # new learners' keys, to store
    counts: Tally = field(default_factory=Tally)
    touched: set[UUID] = field(default_factory=set)

    def add(self, other: StoredPlan) -> None:
        """Take in another share's plan of the same batch (its learners are others)."""
        self.rows += other.rows
        self.events.extend(other.events)
        self.keys.extend(other.keys)
        self.counts.add(other.counts)
        self.touched.update(other.touched)


def new_learners(events: Iterable[Event]) -> list[tuple[str, str]]:
    """The (reference, centre) of each learner these events record for the first time."""
    return [(event.reference, event.centre) for event in events
            if isinstance(event, Learner.Recorded)]


def index_events(indexes: dict[str, LearnerReference],
                 new: Sequence[tuple[str, str]]) -> list[Event]:
    """The reference index's events for new learners (reference, centre), on the indexes
    given (loaded for each reference)."""
    for reference, centre in new:
        indexes[reference].add_centre(centre)
    return [event for reference in dict.fromkeys(reference for reference, _ in new)
            for event in indexes[reference].collect_events()]


class BatchWriter:
    """Writes batches: load, plan, save in one transaction; re-plan if another writer interfered."""

    def __init__(self, app: LedgerApp) -> None:
        self.app = app

    def encode_plan(self, plan: BatchPlan, made: OrderedDict[UUID, bytes]) -> StoredPlan:
        """The check's plan of a batch encoded for storing, its events stamped with the
        time it is now.

        An event's timestamp is when the ledger recorded it: `--as-at` shows what the ledger
        knew then. Events planned during the check are not yet recorded, so they are stamped
        as they are encoded for storing, moments before the transaction that stores them (as
        a command's events are stamped when made, just before they are saved). They have
        never been stored, so nothing is rewritten.
        """
        recorded = self.app.sealing_mapper.transcoder.encode(datetime.now(UTC))
        return self._stored_plan(plan.events, [recorded] * len(plan.events), made, plan.rows,
                                 plan.counts, plan.touched)

    def encode(self, events: Sequence[Event], made: OrderedDict[UUID, bytes], rows: int = 0,
               counts: Tally | None = None, touched: set[UUID] | None = None) -> StoredPlan:
        """Events packed for storing, each at its own recorded time, with the keys of new
        learners to store with them."""
        mapper = self.app.sealing_mapper
        prepared = [mapper.prepare(event) for event in events]
        recorded = [mapper.transcoder.encode(event.timestamp)  # type: ignore[attr-defined]
                    for event in events]
        return self._stored_plan(prepared, recorded, made, rows, counts, touched)

    def _stored_plan(self, events: Sequence[PreparedEvent], recorded: Sequence[bytes],
                     made: OrderedDict[UUID, bytes], rows: int, counts: Tally | None,
                     touched: set[UUID] | None) -> StoredPlan:
        """Prepared events finished at their recorded times and packed, with the keys of the
        learners they seal for.

        Writes nothing: new learners' keys are made here (remembered in `made`) and stored
        in the transaction that stores the events, so encoding in a worker never waits for
        the storing process's write lock, and a refused batch leaves no key behind. Only
        learners with something to seal in the batch get a key opened or made.
        """
        finish = self.app.sealing_mapper.finish
        learners = {event.originator_id for event in events if event.personal is not None}
        keys = self.app.keys.open_or_make(learners, made)
        try:
            stored = [finish(event, at) for event, at in zip(events, recorded, strict=True)]
        finally:
            self.app.keys.forget(learners)
        return StoredPlan(rows, self.app.chained_recorder.pack(stored), keys, counts or Tally(),
                          touched or set())

    def write_stored(self, plan: StoredPlan,
                     committing: Callable[[], None] | None = None) -> bool:
        """Store an encoded plan of a batch as it is, with its new keys, in one transaction.

        The plan holds for each learner (and reference index) the events that follow the
        version the check read. If any has moved on since (another writer, or an earlier
        batch whose plan was not this one's starting point), or another writer stored a key
        for one of its new learners, the whole batch is refused (False): the caller plans it
        again against the ledger. `committing` is called once everything is written, just
        before the commit.
        """
        if not plan.events:
            return True
        recorder = self.app.chained_recorder
        try:
            with recorder.transaction(commit=True) as session:
                recorder.insert_packed(plan.events, session)
                self.app.keys.store_new_keys(session.connection(), plan.keys)
                if committing is not None:
                    committing()
        except IntegrityError:
            return False
        return True

    def write(self, rows: list[ParsedRow], make_planner: Callable[[], P]
              ) -> tuple[P, list[RowProblem]]:
        """Write the rows' new facts; returns the planner used and rows the ledger refused."""
        ids = {learner_id(row.centre, row.reference) for row in rows}
        for _ in range(MAX_ATTEMPTS):
            planner = make_planner()
            learners = load_learners(self.app, ids)
            refused: list[RowProblem] = []
            for row in rows:
                try:
                    planner.apply(learners, row)
                except RowError as error:
                    refused.extend(error.problems(row.line))
            events = [event for learner in learners.values() if learner is not None
                      for event in learner.collect_events()]
            new = new_learners(events)
            indexes = load_references(self.app, {reference for reference, _ in new})
            events += index_events(indexes, new)
            saved = self.write_stored(self.encode(events, OrderedDict()))
            self.app.keys.forget(ids)  # keys opened while loading, too
            if saved:
                return planner, refused
            time.sleep(random.uniform(0, 0.05))
        raise ConcurrencyConflict("other writers kept changing the same learners; run the "
                                  "import again to finish")
