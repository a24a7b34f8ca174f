"""Reports as recorded by a past moment, without folding the whole ledger again.

The materialised timelines are the ledger as it is now; as recorded by a moment, only the
learners with an event recorded after it differ. `changed_since` finds them through the
moments table (the earliest and latest recorded times of each bucket of positions the reports
folded, written with the timelines and the tracking position) and folds only their events;
for an early moment, folding the events up to the last bucket with one recorded by the
moment costs less (`timelines_as_recorded` takes the cheaper way).

Exact whatever order the recorded times are in: a bucket's latest time is the maximum over
every learner event in it (its earliest the minimum), so an event recorded after the moment
but stored before events
recorded earlier (concurrent writers, clocks apart; on PostgreSQL the claimed time may be up
to 15 minutes from the server's) still marks its bucket. Every position up to the reports'
tracking position is in a bucket (the buckets and the position are committed together, and
positions are committed in order: the library's notification log does not interleave), and
the positions after it are read whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from sqlalchemy import inspect, select

from ledger.bulk.gc_pause import cyclic_gc_paused
from ledger.reporting.rebuild import catch_up_all
from ledger.reporting.reports import (
    LOAD_CHUNK,
    MOMENT_BUCKET,
    MOMENTS_TABLE,
    REBUILD_PAGE_SIZE,
    TRACKING_TABLE,
    ReportsView,
    current_timelines,
    entry_pages,
    last_position,
    may_write_reports,
    microseconds,
    open_view,
    recorded_at,
    timelines_read_only,
)
from ledger.reporting.row_versions import learner_entries
from projections.timeline import Timeline, apply_entry, new_timeline

if TYPE_CHECKING:
    from ledger.app import LedgerApp

Window = tuple[int, int]
Events = list[tuple[int, Any]]


def changed_since(app: LedgerApp, moment: datetime, base: int | None = None,
                  folded: tuple[int, list[int]] | None = None) -> dict[str, Timeline | None]:
    """Every learner with an event recorded after `moment`, with its timeline as recorded by
    `moment` (None when it had no event recorded by then).

    Also every learner with an event after the position the reports are caught up to (or
    `base`, when lower: the position of the timelines the caller holds), with its timeline
    as recorded by the moment too, so the caller's timelines with these put in their place
    are the ledger as recorded by the moment. An event counts as recorded by the moment when
    its recorded time is at or before it. Cost: the events of the buckets of positions
    recorded after the moment, and those learners' events; not the ledger's. `folded`: the
    reports' position and the buckets recorded after the moment, when the caller has read
    them (`_folded_buckets`).
    """
    done, buckets = folded or _folded_buckets(app, microseconds(moment))
    if base is not None:
        done = min(done, base)
    learners: set[str] = set()
    for after, upto in bucket_windows(buckets, done):
        for batch in entry_pages(app, after, upto, REBUILD_PAGE_SIZE):
            learners.update(entry.learner_id for entry in batch if recorded_at(entry) > moment)
    for batch in entry_pages(app, done, last_position(app), REBUILD_PAGE_SIZE):
        learners.update(entry.learner_id for entry in batch)
    return timelines_recorded_by(app, sorted(learners), moment)


def _folded_buckets(app: LedgerApp, latest: int) -> tuple[int, list[int]]:
    """The position the reports are caught up to (read first: the buckets read after it
    cover at least that far) and the buckets with an event recorded after `latest`. No
    reports yet (or made by a version without the moments): position 0, no buckets."""
    inspector = inspect(app.engine)
    if not (inspector.has_table(TRACKING_TABLE) and inspector.has_table(MOMENTS_TABLE)):
        return 0, []
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    done = view.max_tracking_id(app.name) or 0
    return done, view.buckets_after(latest)


def bucket_windows(buckets: list[int], done: int) -> list[Window]:
    """The windows of positions (after, upto] of these buckets, up to `done`, consecutive
    buckets joined."""
    windows: list[Window] = []
    for bucket in buckets:
        after = max(bucket * MOMENT_BUCKET - 1, 0)
        upto = min((bucket + 1) * MOMENT_BUCKET - 1, done)
        if upto <= after:
            continue
        if windows and windows[-1][1] >= after:
            windows[-1] = (windows[-1][0], upto)
        else:
            windows.append((after, upto))
    return windows


def timelines_recorded_by(app: LedgerApp, learners: list[str], moment: datetime,
                          ) -> dict[str, Timeline | None]:
    """These learners' timelines from their events recorded by `moment` (None: none was)."""
    found: dict[str, Timeline | None] = dict.fromkeys(learners)
    for learner, entries in learner_entries(app, learners):
        for entry in entries:
            if recorded_at(entry) > moment:
                continue
            timeline = found[learner]
            if timeline is None:
                timeline = found[learner] = new_timeline(learner)
            apply_entry(timeline, entry)
    return found


def with_overrides(timelines: list[Timeline], override: Mapping[str, Timeline | None],
                   centre: str | None = None) -> list[Timeline]:
    """The timelines with those of `override` in their place (None: left out), of one centre
    when given, in learner-id order."""
    merged = {t["learner_id"]: t for t in timelines if t["learner_id"] not in override}
    merged.update((learner, t) for learner, t in override.items() if t is not None)
    return sorted((t for t in merged.values() if centre is None or t["centre"] == centre),
                  key=lambda t: t["learner_id"])


# The changed learners' way wins when at most 1/CHANGES_WIN of the folded positions were
# recorded after the moment. Measured at N = 100,000 on SQLite (docs/performance.md):
# reading every current timeline costs about 0.6 of folding every event, and a position
# after the moment about twice what folding one costs; so the changes cost 0.6 D + 2 L
# against D - L for the fold (D positions, L after the moment): L < D / 7.5.
CHANGES_WIN = 8


def timelines_as_recorded(app: LedgerApp, moment: datetime, centre: str | None = None,
                          by_changes: bool | None = None) -> list[Timeline]:
    """The timelines (of one centre) as recorded by `moment`, in learner-id order, by the
    cheaper of two exact ways (`by_changes` forces one):

    - the current timelines with those of the learners changed since the moment put back
      (`changed_since`): for a late moment. It reads every current timeline of the centre
      (kept report rows, which need only the changed learners' timelines, will spare that);
    - the events up to the last bucket of positions holding one recorded by the moment
      (and any the reports have not caught up to), those recorded by then folded: never
      more events than the whole ledger, far fewer for an early moment.
    """
    if may_write_reports(app):
        catch_up_all(app, open_view(app))
    done, buckets = _folded_buckets(app, microseconds(moment))
    if by_changes if by_changes is not None else _changes_are_few(done, buckets):
        current, position = current_timelines(app, centre)
        return with_overrides(current, changed_since(app, moment, position, (done, buckets)),
                              centre)
    last = _last_bucket_by(app, moment) if done else None
    prefix = 0 if last is None else min((last + 1) * MOMENT_BUCKET - 1, done)
    return fold_recorded_by(app, moment, [(0, prefix), (done, last_position(app))], centre)


def _changes_are_few(done: int, buckets: list[int]) -> bool:
    """Whether the changed learners' way is the cheaper: at most 1/CHANGES_WIN of the
    `done` positions folded were recorded after the moment (`buckets` of them at most)."""
    later = len(buckets) * MOMENT_BUCKET  # at most this many positions recorded after it
    return bool(done) and CHANGES_WIN * later <= done


def _last_bucket_by(app: LedgerApp, moment: datetime) -> int | None:
    """The last bucket of positions folded with an event recorded by the moment."""
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    return view.last_bucket_by(microseconds(moment))


def fold_recorded_by(app: LedgerApp, moment: datetime, windows: list[Window],
                     centre: str | None = None) -> list[Timeline]:
    """The timelines folded from the events in these windows of positions recorded by
    `moment` (of one centre), in learner-id order, a page at a time."""
    timelines: dict[str, Timeline] = {}
    for after, upto in windows:
        for batch in entry_pages(app, after, upto, REBUILD_PAGE_SIZE):
            with cyclic_gc_paused():
                for entry in batch:
                    if recorded_at(entry) <= moment:
                        learner = entry.learner_id
                        apply_entry(timelines.setdefault(learner, new_timeline(learner)),
                                    entry)
    return sorted((t for t in timelines.values() if centre is None or t["centre"] == centre),
                  key=lambda t: t["learner_id"])


def centre_learners(app: LedgerApp, centre: str) -> list[tuple[str, str]]:
    """The centre's learners (id, reference), in id order, from the report tables caught up
    (or, for a login that may not write them, caught up in memory)."""
    if not may_write_reports(app):
        found, _ = timelines_read_only(app, centre)
        return [(t["learner_id"], t["reference"]) for t in found]
    view = open_view(app)
    catch_up_all(app, view)
    return view.learners(centre)


def learner_histories(app: LedgerApp, learners: list[str]) -> Iterator[tuple[str, Events]]:
    """Each learner's stored events (position, domain event, personal data opened), in
    recorded order, read a chunk of learners at a time."""
    record = app.recorder.events_record_cls  # type: ignore[attr-defined]
    for start in range(0, len(learners), LOAD_CHUNK):
        chunk = [UUID(learner) for learner in learners[start:start + LOAD_CHUNK]]
        query = (select(record.id, record.originator_id, record.originator_version,
                        record.topic, record.state)
                 .where(record.originator_id.in_(chunk)).order_by(record.id))
        with app.engine.connect() as connection:
            rows = connection.execute(query).all()
        histories: dict[str, Events] = {}
        for row in rows:
            event = app.mapper.to_domain_event(StoredEvent(
                originator_id=row.originator_id, originator_version=row.originator_version,
                topic=row.topic, state=bytes(row.state)))
            histories.setdefault(str(row.originator_id), []).append((row.id, event))
        yield from histories.items()
