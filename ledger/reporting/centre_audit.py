"""A centre's audit trail (`ledger report audit --centre`), streamed in position order: every
event of the centre's learners, read a window of positions at a time, so that the trail of a
centre of any size is never held whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from sqlalchemy import select

from ledger.integrity.stamps import Stamp, stamp_time
from ledger.integrity.verify import chained_recorder
from ledger.reporting.as_at import centre_learners
from ledger.reporting.reports import LEARNER_TOPICS, last_position
from ledger.storage.raw_rows import raw_rows, uuid_text
from projections.audit import audit_row, event_name

if TYPE_CHECKING:
    from ledger.app import LedgerApp

AUDIT_WINDOW = 5_000  # positions read at a time
RETRACTED = next(topic for topic in LEARNER_TOPICS if topic.endswith(".Retracted"))


@dataclass
class CentreTrail:
    """What a centre's audit needs before its first row: the centre's learners, and the
    retractions recorded by the moment (few), so that each event's row says whether a later
    one retracted it without the later one having been read."""

    learners: dict[str, str]  # learner id -> reference
    moment: datetime | None = None
    retracted_by: dict[tuple[str, int], int] = field(default_factory=dict)
    retracts: dict[int, int | None] = field(default_factory=dict)  # position -> position


def centre_audit(app: LedgerApp, centre: str, moment: datetime | None = None,
                 first: date | None = None, last: date | None = None,
                 ) -> Iterator[dict[str, Any]]:
    """The centre's audit rows (`projections.audit.audit_row`, with the learner's
    reference) in position order, recorded by `moment` and on `first` to `last` (recorded
    dates, both optional)."""
    trail = CentreTrail(dict(centre_learners(app, centre)), moment)
    if not trail.learners:
        return
    stop = last_position(app)
    _note_retractions(app, trail, stop)
    for events in _windows(app, trail, stop):
        for position, event, stamp in events:
            row = audit_row(position, event, trail.retracted_by.get(
                (str(event.originator_id), event.originator_version)),
                trail.retracts.get(position), stamp)
            recorded = row["recorded"].date()
            if (first and recorded < first) or (last and recorded > last):
                continue
            yield {"learner": trail.learners[str(event.originator_id)], **row}


def _windows(app: LedgerApp, trail: CentreTrail, stop: int,
             ) -> Iterator[list[tuple[int, Any, Stamp]]]:
    """The centre's learner events recorded by the moment, decoded (personal data opened),
    with the chain's stamp of each, a window of positions at a time."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    hashes = chained_recorder(app).hashes_table
    after = 0
    while after < stop:
        upto = min(after + AUDIT_WINDOW, stop)
        query = (select(table.c.id, table.c.originator_id, table.c.originator_version,
                        table.c.topic, table.c.state, hashes.c.recorded_by,
                        hashes.c.recorded_at_us)
                 .select_from(table.outerjoin(hashes, hashes.c.position == table.c.id))
                 .where(table.c.id > after, table.c.id <= upto,
                        table.c.topic.in_(LEARNER_TOPICS))
                 .order_by(table.c.id))
        events = [(position, event, Stamp(login, stamp_time(at)))
                  for position, event, login, at in _decoded(app, trail, query)]
        if events:
            yield events
        after = upto


def _decoded(app: LedgerApp, trail: CentreTrail, query: Any) -> Iterator[tuple[Any, ...]]:
    """The query's events of the centre's learners recorded by the moment: (position, the
    event decoded, and the query's further columns). Only these learners' keys are kept."""
    rows = [(uuid_text(row[1]), row) for row in raw_rows(app.engine, query)]
    rows = [(learner, row) for learner, row in rows if learner in trail.learners]
    app.keys.hold_only({UUID(learner) for learner, _ in rows})
    for learner, (position, _, version, topic, state, *more) in rows:
        event = app.mapper.to_domain_event(StoredEvent(
            originator_id=UUID(learner), originator_version=version, topic=topic,
            state=bytes(state)))
        if trail.moment is None or event.timestamp <= trail.moment:
            yield position, event, *more


def _note_retractions(app: LedgerApp, trail: CentreTrail, stop: int) -> None:
    """The centre's retractions recorded by the moment: which version each retracted, and
    at what position that version was recorded."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    query = (select(table.c.id, table.c.originator_id, table.c.originator_version,
                    table.c.topic, table.c.state)
             .where(table.c.id <= stop, table.c.topic == RETRACTED).order_by(table.c.id))
    for position, event in _decoded(app, trail, query):
        assert event_name(event) == "Retracted"
        learner = str(event.originator_id)
        trail.retracted_by[learner, event.retracted_version] = position
        trail.retracts[position] = _position_of(app, learner, event.retracted_version)


def _position_of(app: LedgerApp, learner: str, version: int) -> int | None:
    """The position a learner's version was recorded at (None: no such version)."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    with app.engine.connect() as connection:
        return connection.execute(select(table.c.id).where(
            table.c.originator_id == UUID(learner),
            table.c.originator_version == version)).scalar()

