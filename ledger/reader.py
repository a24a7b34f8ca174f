"""Reading a learner's stored trail by reference: what the application and the read-only
`LedgerReader` (`ledger audit`) share. The reader opens the database through its DB-API
driver alone: no SQLAlchemy, no eventsourcing application or recorder, nothing written."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

from aggregates.errors import AmbiguousLearner, UnknownLearner, shown
from aggregates.learner import LearnerReference, learner_id
from ledger.integrity.stamps import QUERY_POSITIONS, Stamp, stamp_time
from ledger.privacy.crypto import MasterKeySource
from ledger.privacy.key_reading import KeyReader
from ledger.privacy.sealing import SealingMapper
from ledger.storage import dbapi
from ledger.storage.locations import EVENT_HASHES_TABLE, EVENTS_TABLE, database_url
from ledger.storage.transcoding import LedgerTranscoder

STAMP_COLUMNS = frozenset({"recorded_by", "recorded_at_us"})
Trail = list[tuple[int, DomainEventProtocol[UUID]]]


class LearnerReading:
    """Finding a learner's stored events by reference, with SQL alone. Subclasses say how
    one aggregate's stored rows are read (`stored_events`)."""

    mapper: Mapper[UUID]

    def stored_events(self, originator_id: UUID) -> list[tuple[int, StoredEvent]]:
        """One aggregate's stored events with their positions, in version order."""
        raise NotImplementedError

    def learner_history(self, reference: str, centre: str | None = None) -> tuple[str, Trail]:
        """The learner's centre and stored events (as `learner_events`), found by reference
        (and centre, when the reference is at several) without rebuilding the learner."""
        if centre is None:
            centre = self._only_centre_of(reference)
        events = self.learner_events(learner_id(centre, reference))
        if not events:
            raise unknown_learner(reference, centre)
        return centre, events

    def _only_centre_of(self, reference: str) -> str:
        centres = self._centres_of(reference)
        if not centres:
            raise UnknownLearner(f"no learner {shown(reference)} is recorded")
        if len(centres) > 1:
            raise AmbiguousLearner(
                f"learner {shown(reference)} exists at centres {', '.join(centres)}: give --centre"
            )
        return centres[0]

    def _centres_of(self, reference: str) -> list[str]:
        """The centres the reference index lists for a reference (none if not indexed)."""
        events = self.learner_events(LearnerReference.create_id(reference))
        index = project_aggregate(None, (event for _, event in events))
        return [] if index is None else list(cast(LearnerReference, index).centres)

    def learner_events(self, learner: UUID) -> Trail:
        """Every stored event of one learner (or aggregate) with its global position, in
        recorded order."""
        return [(position, self.mapper.to_domain_event(stored))
                for position, stored in self.stored_events(learner)]


def unknown_learner(reference: str, centre: str) -> UnknownLearner:
    """No learner with that reference at that centre."""
    return UnknownLearner(f"no learner {shown(reference)} at centre {centre}")


class LedgerReader(LearnerReading):
    """A ledger opened only to read learners' trails (`ledger audit`): a DB-API connection,
    the keys and the sealing mapper, but no eventsourcing application, no recorder, no
    set-up of tables or triggers, so nothing is written and neither SQLAlchemy nor the
    recorder's libraries load.

    The caller checks first that the database is a ledger (`storage.existence`)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.connection: Any = dbapi.connect(self.url)
        self.keys = KeyReader(self.connection, MasterKeySource.for_url(self.url))
        self.mapper = SealingMapper(LedgerTranscoder(), self.keys)

    def stored_events(self, originator_id: UUID) -> list[tuple[int, StoredEvent]]:
        bound = originator_id.bytes if dbapi.is_sqlite(self.connection) else str(originator_id)
        found = dbapi.rows(
            self.connection,
            f"SELECT id, originator_version, topic, state FROM {EVENTS_TABLE} "
            f"WHERE originator_id = {dbapi.marker(self.connection)} ORDER BY originator_version",
            (bound,))
        return [(row[0], StoredEvent(originator_id=originator_id, originator_version=row[1],
                                     topic=row[2], state=bytes(row[3])))
                for row in found]

    def stamps(self, positions: Iterable[int]) -> dict[int, Stamp]:
        """The chain's stamps (login, time) of the events at these positions; none on a
        ledger chained before stamps, which the application would give empty stamp columns
        when it next opens it (a reader changes nothing)."""
        if not dbapi.column_names(self.connection, EVENT_HASHES_TABLE) >= STAMP_COLUMNS:
            return {}
        wanted = sorted(set(positions))
        found: dict[int, Stamp] = {}
        for start in range(0, len(wanted), QUERY_POSITIONS):
            chunk = wanted[start:start + QUERY_POSITIONS]
            markers = ", ".join([dbapi.marker(self.connection)] * len(chunk))
            found.update({position: Stamp(login, stamp_time(at)) for position, login, at in
                          dbapi.rows(self.connection,
                                     "SELECT position, recorded_by, recorded_at_us "
                                     f"FROM {EVENT_HASHES_TABLE} WHERE position IN ({markers}) "
                                     "AND recorded_at_us IS NOT NULL", chunk)})
        return found

    def close(self) -> None:
        self.connection.close()
