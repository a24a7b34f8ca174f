"""A learner's timeline as recorded by each moment: one version per distinct recorded time.

What a report `--as-at T` reads of a learner is the fold of their events recorded by T (in
position order). That changes only at the recorded times of the learner's own events, so the
learner has one version for each distinct recorded time t_1 < ... < t_k, version i standing
for the moments [t_i, t_i+1) (the last from t_k on). An import saves a learner's events in one
transaction, so most learners have one version, the current timeline.

Exact whatever order the recorded times are in (clocks apart, concurrent writers): version i
folds the events recorded by t_i, not the events up to a position.

The versions come from the current timeline when it holds every event of the learner (the
fact versions are 1 to n and its position is its last fact's): its facts, in position order,
filtered by recorded time. A retraction (which removes the fact it retracts) or an event the
timeline does not fold (the access log) leaves a gap: that learner's events are read and
folded again (`versions_of_events`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import Connection, select

from ledger.reporting.plain_events import entries_of_rows
from ledger.reporting.reports import LEARNER_TOPICS, LOAD_CHUNK, microseconds
from ledger.storage.raw_rows import json_text_column, originator_column
from projections.timeline import Entry, Timeline, apply_entry, new_timeline

if TYPE_CHECKING:
    from ledger.app import LedgerApp

Version = tuple[int, Timeline]  # the first moment it stands (microseconds), the timeline


def recorded_us(text: str) -> int:
    """A stored ISO timestamp as microseconds since the epoch (UTC)."""
    return microseconds(datetime.fromisoformat(text))


def is_whole(timeline: Timeline) -> bool:
    """Whether the timeline holds every event of the learner: its facts' versions are 1 to
    n and its position is its last fact's (no retraction, no event left unfolded)."""
    facts = timeline["facts"]
    if not facts or facts[-1]["position"] != timeline["position"]:
        return False
    versions = sorted(fact["version"] for fact in facts)
    return versions[0] == 1 and versions[-1] == len(versions)


def versions_of_timeline(timeline: Timeline) -> list[Version]:
    """The versions of a whole timeline (`is_whole`), earliest first."""
    facts = timeline["facts"]
    texts = {fact["recorded"] for fact in facts}
    if len(texts) == 1:  # the common case: one transaction recorded them all
        return [(recorded_us(texts.pop()), timeline)]
    moments = {text: recorded_us(text) for text in texts}
    versions = []
    for moment in sorted(set(moments.values())):
        kept = [fact for fact in facts if moments[fact["recorded"]] <= moment]
        versions.append((moment, _with_facts(timeline, kept)))
    return versions


def _with_facts(timeline: Timeline, facts: list[dict]) -> Timeline:
    """The timeline holding only these facts (its record and position from them)."""
    recorded = next((fact for fact in facts if fact["event"] == "Recorded"), None)
    return {"learner_id": timeline["learner_id"],
            "centre": recorded and timeline["centre"],
            "reference": recorded and timeline["reference"],
            "position": max(fact["position"] for fact in facts), "facts": facts}


def versions_of_events(learner_id: str, entries: list[Entry]) -> list[Version]:
    """A learner's versions folded from their events (in position order), earliest first."""
    moments = [recorded_us(entry.state["timestamp"]) for entry in entries]
    versions = []
    for moment in sorted(set(moments)):
        timeline = new_timeline(learner_id)
        for entry, recorded in zip(entries, moments, strict=True):
            if recorded <= moment:
                apply_entry(timeline, entry)
        versions.append((moment, timeline))
    return versions


def versions_of(timeline: Timeline, entries: list[Entry]) -> list[Version]:
    """A timeline's versions, given the learner's events in position order (those recorded
    after the timeline's position left out): from the timeline when it is whole, else folded
    again from the events (as a rebuild's workers have them in hand)."""
    if is_whole(timeline):
        return versions_of_timeline(timeline)
    upto = timeline["position"]
    return versions_of_events(timeline["learner_id"],
                              [entry for entry in entries if entry.position <= upto])


def learner_entries(app: LedgerApp, learners: Iterable[str],
                    connection: Connection | None = None,
                    ) -> Iterator[tuple[str, list[Entry]]]:
    """Each learner's stored events as the fold reads them, in position order, read a chunk
    of learners at a time (on `connection` when given: the one writing the kept rows)."""
    ordered = sorted(learners)
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    for start in range(0, len(ordered), LOAD_CHUNK):
        chunk = [UUID(learner) for learner in ordered[start:start + LOAD_CHUNK]]
        query = (select(table.c.id, originator_column(app.engine, table.c.originator_id),
                        table.c.originator_version, table.c.topic,
                        json_text_column(app.engine, table.c.state))
                 .where(table.c.originator_id.in_(chunk), table.c.topic.in_(LEARNER_TOPICS))
                 .order_by(table.c.id))
        if connection is not None:
            rows = connection.execute(query).all()
        else:
            with app.engine.connect() as own:
                rows = own.execute(query).all()
        found: dict[str, list[Entry]] = {}
        for entry in entries_of_rows(rows):
            found.setdefault(entry.learner_id, []).append(entry)
        yield from found.items()


def learner_versions(app: LedgerApp, timelines: list[Timeline],
                     connection: Connection | None = None,
                     ) -> Iterator[tuple[str, list[Version]]]:
    """Each timeline's learner with its versions: from the timeline when it is whole, else
    from the learner's events (read on `connection` when given)."""
    partial: dict[str, int] = {}
    for timeline in timelines:
        if is_whole(timeline):
            yield timeline["learner_id"], versions_of_timeline(timeline)
        else:
            partial[timeline["learner_id"]] = timeline["position"]
    for learner_id, entries in learner_entries(app, partial, connection):
        # only the events the timeline holds: those recorded since wait for its catch-up
        upto = partial[learner_id]
        yield learner_id, versions_of_events(
            learner_id, [entry for entry in entries if entry.position <= upto])
