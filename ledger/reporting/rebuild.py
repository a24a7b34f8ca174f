"""A full rebuild of the reports, on several cores for a large ledger.

Worker processes each fold a share of the learners (a range of their ids), window of
positions by window; the parent writes each window's timelines with the tracking position
in one transaction while the workers fold the next window. A worker keeps the timelines of
the window before (not yet written when it folds the next) and reads older ones from the
database, so memory stays flat whatever the ledger's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Tracking
from sqlalchemy import literal_column, select, text
from sqlalchemy.orm import Session

from aggregates.learner import Learner
from ledger.bulk.gc_pause import BulkPass
from ledger.bulk.progress import NoProgress, Progress
from ledger.bulk.workers import (
    WorkerFailed,
    can_fork_workers,
    portable,
    start_workers,
    stop_processes,
    stream_shares,
    worker_count,
)
from ledger.reporting.fingerprint import rulebook_fingerprint
from ledger.reporting.plain_events import entries_of_rows
from ledger.reporting.report_rows import (
    JUDGED_TABLES,
    REFRESH_CHUNK,
    Judged,
    RowsState,
    forget_rows,
    judge_versions,
    lock_rows,
    refresh_rows,
    rows_state,
    write_judged,
    write_rows_state,
)
from ledger.reporting.reports import (
    LEARNER_TOPICS,
    REBUILD_PAGE_SIZE,
    TIMELINES_TABLE,
    ReportsView,
    Span,
    catch_up,
    fold,
    last_position,
    learner_entries,
    learners_of,
    may_write_reports,
    merge_moments,
    moments_by_bucket,
    open_view,
    timeline_row,
)
from ledger.reporting.row_versions import learner_versions, versions_of
from ledger.storage.persistence import checkpoint
from ledger.storage.raw_rows import json_text_column, originator_column, raw_rows
from projections.timeline import Entry, Timeline

if TYPE_CHECKING:
    from ledger.app import LedgerApp
    from projections.policy import PolicyLike

Window = tuple[int, int]
RANGES_PER_PAGE = 8  # a rebuild's ranges of learners hold about an eighth of a page of events each
JUDGE_SHARE = 1_000  # learners a judging worker judges a window (more: more memory, no faster)
# a window's timeline rows, the learners among them with a row stored already, and its events
Folded = tuple[list[dict[str, Any]], list[str], int]
# what a worker sends: the window folded, and the earliest and latest recorded times of its
# events by bucket of positions
Sent = tuple[list[dict[str, Any]], list[str], int, dict[int, Span]]


class RebuildWorkerFailed(WorkerFailed):
    """A worker process of a rebuild stopped without folding its share."""


def rebuild(app: LedgerApp, view: ReportsView, progress: Progress | None = None,
            workers: int | None = None, page: int = REBUILD_PAGE_SIZE,
            book: PolicyLike | None = None) -> int:
    """Recompute the materialised timelines from the first event; returns events processed.

    `workers`: processes folding in parallel (default: one per core on a large ledger).
    Larger pages than a catch-up: fewer transactions, and fewer rewrites of a timeline whose
    events fall in several pages. Whatever is recorded meanwhile is caught up at the end.
    With `book`, the kept report rows are judged again by it too: by the workers that fold,
    from the timelines they have in hand, written with them (one pass, not a second one that
    reads and parses every timeline again); without, the kept rows are left as they are.
    """
    if book is not None:
        forget_rows(app)
    view.clear(app.name)
    stop = last_position(app)
    workers = worker_count(app.engine, stop) if workers is None else workers
    if workers <= 1 or not can_fork_workers(app.engine):
        processed = catch_up(app, view, page=page, progress=progress)
    else:
        processed = fold_by_learner(app, view, stop, workers, page, progress, book)
        processed += catch_up(app, view, page=page)
    if book is not None:  # the learners the fold left (a serial rebuild: every one)
        refresh_rows(app, book, progress, workers=workers)
    checkpoint(app.engine)  # a bulk write: the next writer does not pay for its checkpoint
    return processed


def fold_by_learner(app: LedgerApp, view: ReportsView, stop: int, workers: int, page: int,
                    progress: Progress | None = None, book: PolicyLike | None = None) -> int:
    """Fold every learner event up to `stop` into cleared reports, learner by learner: the
    learners in ranges of ids of about `page` events each, every learner folded once, whole,
    and written once (windows of positions fold a learner whose events span many imports in
    each window it has events in, loading and rewriting its timeline each time: twice the
    CPU and memory on a ledger grown by monthly imports). Returns the events written.

    Each range's timelines are written in one transaction, the tracking position only at the
    end: stopped part way, the reports hold complete timelines of some learners with no
    position, and the next catch-up folds from the first event, passing over the events a
    timeline holds already (`reports.fold`). It stops early if another process catches the
    reports up meanwhile; the caller's catch-up then does the rest the same way.

    With `book` (the kept rows forgotten first: `report_rows.forget_rows`), each worker
    judges its learners' rows too, every version, and they are written with the timelines;
    the rows' state (`stop`, the book's fingerprint) is written with the tracking position.
    Stopped part way, the rows have no state, and the next refresh judges every learner.
    """
    ranges = learner_ranges(max(workers, -(-stop * RANGES_PER_PAGE // page)))
    steps = -(-len(ranges) // workers)
    progress = progress or NoProgress()
    progress.start("Reports", stop)
    written = 0
    moments: dict[int, Span] = {}
    with _worker_stream(app, partial(_fold_ranges, app, ranges, steps, workers, stop, book),
                        workers, "a rebuild worker") as (stream, bulk):
        for step, parts in enumerate(stream, 1):
            rows = [row for part, _, _, _ in parts for row in part]
            for _, _, part_moments, _ in parts:
                merge_moments(moments, part_moments)
            judged = _gathered(part_judged for _, _, _, part_judged in parts)
            if not view.replace(rows, Tracking(app.name, 0), 0, [], {}, track=False,
                                also=partial(_write_judged, judged)):
                return written
            written += sum(events for _, events, _, _ in parts)
            progress.update(stop * step // steps, written)
            bulk.step()
        state = None if book is None else RowsState(stop, rulebook_fingerprint(book))
        view.replace([], Tracking(app.name, stop), 0, [], moments,
                     also=None if state is None else partial(_write_rows_state, state))
    return written


@contextmanager
def _worker_stream(app: LedgerApp, work: Callable[..., Any], workers: int,
                   name: str) -> Iterator[tuple[Iterator[Any], BulkPass]]:
    """The workers' stream of parts, in a bulk pass: a worker's failure raised as
    RebuildWorkerFailed, and the workers stopped whatever happens."""
    stream = stream_shares(work, workers, app.engine, name)
    try:
        with BulkPass() as bulk:
            yield stream, bulk
    except WorkerFailed as error:
        if type(error) is not WorkerFailed:
            raise
        raise RebuildWorkerFailed(str(error)) from None
    finally:
        stream.close()


def _gathered(parts: Iterable[dict[int, list[tuple[Any, ...]]]]) -> Judged:
    """The workers' judged rows (by the index of their table in JUDGED_TABLES) by table."""
    judged: Judged = {table: [] for table in JUDGED_TABLES}
    for part in parts:
        for index, found in part.items():
            judged[JUDGED_TABLES[index]].extend(found)
    return judged


def _write_judged(judged: Judged, session: Session) -> None:
    write_judged(session.connection(), judged)


def _write_rows_state(state: RowsState, session: Session) -> None:
    write_rows_state(session.connection(), state)


def learner_ranges(count: int) -> list[tuple[UUID, UUID | None]]:
    """`count` ranges of learner ids, [low, high) (the last open-ended), of equal widths
    (uuid5 ids spread evenly over them)."""
    bounds = [UUID(int=index * 2**128 // count) for index in range(count)]
    return list(zip(bounds, [*bounds[1:], None], strict=True))


def _fold_ranges(app: LedgerApp, ranges: list[tuple[UUID, UUID | None]], steps: int,
                 workers: int, stop: int, book: PolicyLike | None, share: int,
                 ) -> Iterator[tuple[list[dict[str, Any]], int, dict[int, Span],
                                     dict[int, list[tuple[Any, ...]]]]]:
    """In a worker: its ranges (every `workers`-th from its share), each folded whole: the
    timelines' rows, the events and their moments, and (with `book`) the learners' judged
    rows by index in JUDGED_TABLES; as many items as every other worker."""
    for step in range(steps):
        index = step * workers + share
        if index >= len(ranges):
            yield [], 0, {}, {}
            continue
        entries = learner_entries_of_range(app, *ranges[index], stop)
        entries.sort(key=attrgetter("position"))  # each learner's events in recorded order
        timelines = fold({}, entries)
        learners = sorted(timelines)
        rows = [timeline_row(timelines[learner]) for learner in learners]
        judged: dict[int, list[tuple[Any, ...]]] = {}
        if book is not None:
            judged = _judged_of(timelines, learners, entries, book)
        yield rows, len(entries), moments_by_bucket(entries), judged


def _judged_of(timelines: dict[str, Timeline], learners: list[str], entries: list[Entry],
               book: PolicyLike) -> dict[int, list[tuple[Any, ...]]]:
    """The learners' kept rows, every version, judged from the timelines just folded (or
    their events, for a timeline that is not whole), by index in JUDGED_TABLES."""
    by_learner: dict[str, list[Entry]] = {}
    for entry in entries:
        by_learner.setdefault(entry.learner_id, []).append(entry)
    judged: Judged = {table: [] for table in JUDGED_TABLES}
    for learner in learners:
        judge_versions(versions_of(timelines[learner], by_learner[learner]), book, judged)
    return {index: judged[table] for index, table in enumerate(JUDGED_TABLES) if judged[table]}


def learner_entries_of_range(app: LedgerApp, low: UUID, high: UUID | None,
                             stop: int) -> list[Entry]:
    """The learner events up to position `stop` of the learners with ids in [low, high),
    read through the aggregate-id index (each learner's events together)."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    column = table.c.originator_id
    conditions = [column >= _uuid_literal(app, low), table.c.id <= stop,
                  table.c.topic.in_(LEARNER_TOPICS)]
    if high is not None:
        conditions.append(column < _uuid_literal(app, high))
    query = (select(table.c.id, originator_column(app.engine, column),
                    table.c.originator_version, table.c.topic,
                    json_text_column(app.engine, table.c.state))
             .where(*conditions).order_by(column, table.c.originator_version))
    return entries_of_rows(raw_rows(app.engine, query))


def _uuid_literal(app: LedgerApp, value: UUID) -> Any:
    """An aggregate id as a literal the id column compares with: a UUID on PostgreSQL, its
    16 bytes on SQLite."""
    if app.engine.dialect.name == "postgresql":
        return literal_column(f"'{value}'::uuid")
    return literal_column(f"X'{value.hex}'")


def catch_up_all(app: LedgerApp, view: ReportsView, progress: Progress | None = None,
                 workers: int | None = None, page: int | None = None) -> int:
    """Catch the reports up with every recorded event; returns the events processed.

    A gap of more than a window of positions (after a large import) is folded as a rebuild
    folds, by worker processes window by window (memory flat, whatever the gap), the rest
    and whatever is recorded meanwhile page by page. Every window is written with its
    tracking position in one transaction, so stopping at any moment (kill -9 too) leaves
    reports that the next catch-up continues.
    """
    page = REBUILD_PAGE_SIZE if page is None else page
    first = view.max_tracking_id(app.name) or 0
    stop = last_position(app)
    workers = worker_count(app.engine, stop - first) if workers is None else workers
    if stop - first <= page or workers <= 1 or not can_fork_workers(app.engine):
        return catch_up(app, view, progress=progress)
    processed = fold_in_parallel(app, view, stop, workers, page, progress, start=first)
    processed += catch_up(app, view, page=page)
    checkpoint(app.engine)  # a bulk write: the next writer does not pay for its checkpoint
    return processed


def bring_reports_up_to_date(app: LedgerApp, progress: Progress | None = None) -> int:
    """After an import: fold what it wrote into the report tables now (`catch_up_all`), so
    the first report after it costs what any report costs; returns the events folded. A
    login that may not write them leaves them to the next report (0)."""
    if not may_write_reports(app):
        return 0
    return catch_up_all(app, open_view(app), progress)


def fold_in_parallel(app: LedgerApp, view: ReportsView, stop: int, workers: int, page: int,
                     progress: Progress | None = None, start: int = 0) -> int:
    """Fold the positions after `start` up to `stop` into reports caught up to `start`;
    returns the events written. It stops early, with what it wrote consistent, if another
    process updates the reports meanwhile: the caller's catch-up then does the rest."""
    pipes, processes = start_workers(workers, app.engine, _work, app, view, workers,
                                     duplex=True)
    try:
        return _drive(app, view, (start, stop), page, pipes, progress or NoProgress())
    finally:  # idle workers stop when told; any still folding (after an error) are stopped
        for pipe in pipes:
            _stop(pipe)
        stop_processes(processes, pipes)


def _drive(app: LedgerApp, view: ReportsView, span: Window, page: int,
           pipes: list[Connection], progress: Progress) -> int:
    """Hand out the windows of the span of positions, and write each one's rows while the
    workers fold the next."""
    start, stop = span
    windows = [(after, min(after + page, stop)) for after in range(start, stop, page)]
    progress.start("Reports", stop - start)
    written = 0
    if windows:
        _send(pipes, windows[0])
    with BulkPass() as bulk:  # each window's rows are tens of thousands of new dicts
        for index, (after, upto) in enumerate(windows):
            folded = [_receive(pipe) for pipe in pipes]
            if index + 1 < len(windows):
                _send(pipes, windows[index + 1])
            rows = [row for part, _, _, _ in folded for row in part]
            stored = [learner for _, part, _, _ in folded for learner in part]
            moments: dict[int, Span] = {}
            for *_, part_moments in folded:
                merge_moments(moments, part_moments)
            if not view.replace(rows, Tracking(app.name, upto), after, stored, moments):
                return written
            written += sum(events for _, _, events, _ in folded)
            progress.update(upto - start, written)
            bulk.step()
    return written


def _send(pipes: list[Connection], window: Window) -> None:
    for pipe in pipes:
        pipe.send(window)


def _receive(pipe: Connection) -> Sent:
    """A worker's answer; its error raised here, where the rebuild is running."""
    try:
        answer = pipe.recv()
    except EOFError:
        raise RebuildWorkerFailed("a rebuild worker process stopped unexpectedly") from None
    if isinstance(answer, BaseException):
        raise answer
    return answer  # type: ignore[no-any-return]


def _stop(pipe: Connection) -> None:
    with contextlib.suppress(OSError):  # the worker may have gone already
        pipe.send(None)


def _work(part: int, pipe: Connection, app: LedgerApp, view: ReportsView, workers: int) -> None:
    """In a forked worker: fold this share of the learners for each window handed over,
    until told to stop (or the rebuild has gone)."""
    share = (part, workers)
    previous: dict[str, Timeline] = {}
    # the collector off for the whole share, not window by window: each time it ran again
    # it first passed over what the window left alive (its timelines and rows), a twelfth
    # of a worker's time
    with BulkPass() as bulk:
        while (window := _next_window(pipe)) is not None:
            try:
                entries = learner_entries(app, *window, share=share)
                previous, folded = fold_entries(view, entries, previous)
                sent: Sent = (*folded, moments_by_bucket(entries))
            except BaseException as error:  # the parent raises it
                pipe.send(portable(error, "a rebuild worker"))
                return
            pipe.send(sent)
            bulk.step()


def _next_window(pipe: Connection) -> Window | None:
    try:
        return pipe.recv()  # type: ignore[no-any-return]
    except EOFError:
        return None


def fold_window(app: LedgerApp, view: ReportsView, share: tuple[int, int], window: Window,
                 previous: dict[str, Timeline]) -> tuple[dict[str, Timeline], Folded]:
    """This share's events in the window folded into its learners' timelines: those of the
    window before as the worker left them, older ones as stored."""
    return fold_entries(view, learner_entries(app, *window, share=share), previous)


def fold_entries(view: ReportsView, entries: list[Entry], previous: dict[str, Timeline],
                 ) -> tuple[dict[str, Timeline], Folded]:
    """A window's events (of a share) folded as `fold_window` folds them."""
    ids = learners_of(entries)
    known = {learner: previous[learner] for learner in ids if learner in previous}
    older = begun_before(entries)
    known.update(view.load([learner for learner in ids
                            if learner not in previous and learner in older]))
    timelines = fold(known, entries)
    rows = [timeline_row(timelines[learner]) for learner in ids]
    return timelines, (rows, list(known), len(entries))


def begun_before(entries: list[Entry]) -> set[str]:
    """The learners whose first event here is not their first of all (version 1, which
    creates the learner): the only ones that can have a timeline from an earlier window."""
    first: dict[str, int] = {}
    for entry in entries:
        first.setdefault(entry.learner_id, entry.version)
    return {learner for learner, version in first.items() if version > Learner.INITIAL_VERSION}


def judge_in_parallel(app: LedgerApp, book: PolicyLike, start: RowsState, caught_up: int,
                      progress: Progress, workers: int | None = None) -> int:
    """A re-judge of every learner (the rows forgotten, the state `start`: position -1, the
    book's fingerprint) by worker processes: windows of JUDGE_SHARE timelines a worker in
    position order, each worker judging its part of the window (reading the timelines on its
    own connection) while the parent writes the window before, with the state moved to the
    window's last timeline in the same transaction. Returns the learners judged.

    Stops, with what it wrote consistent, if the timelines moved (their tracking position is
    no longer `caught_up`) or the state is not where it left it (another process wrote the
    rows): the caller judges the rest batch by batch. 0 when one process is all there is."""
    workers = _judging_workers(app, workers)
    if workers <= 1:
        return 0
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    with app.engine.connect() as connection:
        positions = [int(position) for (position,) in connection.execute(text(
            f"SELECT position FROM {TIMELINES_TABLE} WHERE position > :after "
            "ORDER BY position"), {"after": start.position})]
    windows = _judging_windows(positions, start.position, workers)
    del positions
    judged, expected = 0, start
    with _worker_stream(app, partial(_judge_windows, app, book, windows), workers,
                        "a judging worker") as (stream, bulk):
        for bounds, parts in zip(windows, stream, strict=False):
            rows = _gathered(part for part, _ in parts)
            end = RowsState(bounds[-1][1], start.fingerprint)
            with app.engine.begin() as connection:
                lock_rows(connection)
                if (rows_state(connection) != expected
                        or (view.max_tracking_id(app.name) or 0) != caught_up):
                    return judged
                write_judged(connection, rows)
                write_rows_state(connection, end)
            expected = end
            judged += sum(count for _, count in parts)
            progress.update(judged, judged)
            bulk.step()
    return judged


def _judging_workers(app: LedgerApp, workers: int | None) -> int:
    if not can_fork_workers(app.engine):
        return 1
    return worker_count(app.engine, 10**9) if workers is None else workers


def _judging_windows(positions: list[int], after: int, workers: int,
                     ) -> list[list[tuple[int, int]]]:
    """The timelines' positions cut into windows of JUDGE_SHARE timelines a worker: each
    window a span of positions (after, upto] per worker, in order."""
    windows: list[list[tuple[int, int]]] = []
    for first in range(0, len(positions), JUDGE_SHARE * workers):
        bounds = []
        for share in range(workers):
            part = positions[first + share * JUDGE_SHARE:first + (share + 1) * JUDGE_SHARE]
            upto = part[-1] if part else after
            bounds.append((after, upto))
            after = upto
        windows.append(bounds)
    return windows


def _judge_windows(app: LedgerApp, book: PolicyLike, windows: list[list[tuple[int, int]]],
                   share: int) -> Iterator[tuple[dict[int, list[tuple[Any, ...]]], int]]:
    """In a worker: its part of each window judged: the rows by index in JUDGED_TABLES, and
    the learners judged."""
    for bounds in windows:
        after, upto = bounds[share]
        judged: Judged = {table: [] for table in JUDGED_TABLES}
        count = 0
        with app.engine.connect() as connection:
            while after < upto:
                found = [(int(position), value) for position, value in connection.execute(text(
                    f"SELECT position, timeline FROM {TIMELINES_TABLE} WHERE position > :after "
                    "AND position <= :upto ORDER BY position LIMIT :size"),
                    {"after": after, "upto": upto, "size": REFRESH_CHUNK})]
                if not found:
                    break
                timelines = [orjson.loads(value) for _, value in found]
                for _, versions in learner_versions(app, timelines, connection):
                    judge_versions(versions, book, judged)
                count += len(found)
                after = found[-1][0]
        yield ({index: judged[table] for index, table in enumerate(JUDGED_TABLES)
                if judged[table]}, count)
