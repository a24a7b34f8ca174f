"""The chain checked fast: a tight pass over raw rows, in parallel over cores for large ledgers.

It only answers "does every event fit?" and recomputes the head; when something does not fit,
`ledger.integrity.verify` reads the chain again slowly to say what and where.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import OperationalError
from sqlalchemy import Select, and_, func, select

from ledger.bulk.gc_pause import cyclic_gc_paused
from ledger.bulk.progress import NoProgress, Progress
from ledger.bulk.workers import use_own_connections
from ledger.integrity.chain import EMPTY, Digest, content_digest, link_digest, stamp_bytes
from ledger.integrity.chained_recorder import ChainedApplicationRecorder, framed_originator
from ledger.storage.raw_rows import json_text_column, originator_column, raw_rows

# PostgreSQL's error for bytes that are not valid in the encoding (character_not_in_repertoire)
NOT_UTF8 = "22021"


def scan(recorder: ChainedApplicationRecorder, stop: int, page: int,
         digest_position: int | None, workers: int,
         progress: Progress | None = None) -> tuple[Digest, str | None] | None:
    """The head recomputed from every event, and the chained hash at `digest_position`;
    None as soon as anything does not fit (the caller then explains what).

    With several workers the positions are cut into ranges, each checked in its own
    process from the chain entry stored just before it; the ranges must then join up
    (each ends on the entry the next started from), which makes it the same check.
    """
    progress = progress or NoProgress()
    progress.start("Verifying", stop)
    if workers <= 1:
        return _scan_range(recorder, 0, stop, Start(EMPTY), page, digest_position,
                           progress.update)
    cuts = [stop * part // workers for part in range(workers + 1)]
    starts = [_entry_at_or_before(recorder, cut) for cut in cuts[:-1]]
    done = multiprocessing.get_context("fork").Value("q", 0)  # positions checked, all workers
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_adopt, initargs=(recorder, done)) as pool:
        futures = [pool.submit(_scan_adopted, after, upto, start, page, digest_position)
                   for after, upto, start in zip(cuts[:-1], cuts[1:], starts, strict=True)]
        while wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION).not_done:
            progress.update(done.value, done.value)
        parts = [future.result() for future in futures]
    found = [part for part in parts if part is not None]
    if len(found) < len(parts) or any(
            part[0] != start.digest for part, start in zip(found, starts[1:], strict=False)):
        return None
    at_digest = next((part[1] for part in found if part[1] is not None), None)
    return found[-1][0], at_digest


@dataclass(frozen=True)
class Start:
    """Where a scan starts: the chain entry before its first position (as a digest), and
    that entry's stamp time (None: unstamped, so later entries may be unstamped too)."""

    digest: Digest
    recorded_at_us: int | None = None


def _scan_range(recorder: ChainedApplicationRecorder, after: int, stop: int, start: Start,
                page: int, digest_position: int | None,
                checked_upto: Any = None) -> tuple[Digest, str | None] | None:
    """`_scan` of the positions after `after` up to `stop`, from the chain entry `start`;
    `checked_upto(position, position)` is told after each page."""
    head, at_digest = start, None
    while after < stop:
        upto = min(after + page, stop)
        # per page: its rows are tuples freed by reference counting, and the cyclic
        # collector's passes over them (PostgreSQL's hold memoryviews, which it keeps
        # tracking) took about half the CPU of reading a page from PostgreSQL
        with cyclic_gc_paused():
            checked = _scan_page(recorder, after, upto, head, digest_position)
        if checked is None:
            return None
        head, at_page = checked
        at_digest = at_page or at_digest
        after = upto
        if checked_upto is not None:
            checked_upto(upto, upto)
    return (head.digest if head.digest.events else EMPTY), at_digest


def _scan_page(recorder: ChainedApplicationRecorder, after: int, upto: int, head: Start,
               digest_position: int | None) -> tuple[Start, str | None] | None:
    """The head after the positions after `after` up to `upto`, chained on from `head`, and
    the chained hash at `digest_position` if it is among them; None if anything does not fit:
    a content or link that does not match, a stored value of the wrong type, an unstamped
    entry after a stamped one, or a recorded time before the one chained before it."""
    digest, last_at = head.digest, head.recorded_at_us
    previous, position, seq, at_digest = bytes.fromhex(digest.hash), digest.position, \
        digest.events, None
    rows = _chained_rows(recorder, after, upto)
    if rows is None or links_count(recorder, after, upto) != len(rows):
        return None  # a state that is not text, or a chain entry with no event
    states_as_text = engine_of(recorder).dialect.name == "postgresql"
    for (position, originator, version, topic, state, link_seq, link_content, link_hash,
         recorded_by, recorded_at_us) in rows:
        seq += 1
        if link_seq != seq:  # None when the event has no chain entry
            return None
        if states_as_text:
            data = state.encode()
        elif type(state) is not bytes or type(topic) is not str or type(version) is not int:
            return None  # SQLite stores any type in any column: only the recorder's are right
        else:
            data = state
        content = content_digest(_framed_originator(originator), version, topic, data)
        if content.hex() != link_content:
            return None
        if recorded_at_us is None:
            if last_at is not None:
                return None  # an unstamped entry after a stamped one
            stamp = None
        else:
            if (last_at is not None and recorded_at_us < last_at) or type(recorded_by) is not str:
                return None
            last_at, stamp = recorded_at_us, stamp_bytes(recorded_by, recorded_at_us)
        previous = link_digest(previous, seq, position, content, stamp)
        if previous.hex() != link_hash:
            return None
        if position == digest_position:
            at_digest = previous.hex()
    return Start(Digest(position, previous.hex(), seq), last_at), at_digest


def _chained_rows(recorder: ChainedApplicationRecorder, after: int, upto: int) -> list[Any] | None:
    """The rows of `chained_events_in`; None if PostgreSQL finds a stored state that is not
    UTF-8 text (which no transcoded event is: `ledger.integrity.verify` then reads the bytes)."""
    try:
        return raw_rows(engine_of(recorder), chained_events_in(recorder, after, upto))
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) == NOT_UTF8:
            return None
        raise


# an aggregate's events come in runs: frame each id once
_framed_originator = lru_cache(maxsize=4096)(framed_originator)


_ADOPTED: list[tuple[ChainedApplicationRecorder, Any]] = []


def _adopt(recorder: ChainedApplicationRecorder, done: Any) -> None:
    """In a forked worker: use the parent's recorder with connections of its own, and add
    the positions it checks to the shared count `done`."""
    use_own_connections(engine_of(recorder))
    _ADOPTED.append((recorder, done))


def _scan_adopted(after: int, stop: int, start: Start, page: int,
                  digest_position: int | None) -> tuple[Digest, str | None] | None:
    recorder, done = _ADOPTED[0]
    last = [after]

    def checked_upto(position: int, _: int) -> None:
        with done.get_lock():
            done.value += position - last[0]
        last[0] = position

    return _scan_range(recorder, after, stop, start, page, digest_position, checked_upto)


def _entry_at_or_before(recorder: ChainedApplicationRecorder, position: int) -> Start:
    """The chain entry stored at or before a position, as the digest it makes."""
    table = recorder.hashes_table
    query = (select(table.c.position, table.c.seq, table.c.hash, table.c.recorded_at_us)
             .where(table.c.position <= position).order_by(table.c.position.desc()).limit(1))
    with engine_of(recorder).connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return Start(EMPTY)
    return Start(Digest(row.position, row.hash, row.seq), row.recorded_at_us)


def engine_of(recorder: ChainedApplicationRecorder) -> Any:
    engine = recorder.datastore.engine
    assert engine is not None
    return engine


def events_in(recorder: ChainedApplicationRecorder, after: int, upto: int,
              states_as_text: bool = False) -> Select[Any]:
    """The stored events at positions after `after` up to `upto`.

    Pages are windows of positions, not LIMITs: the database reads only the window, whatever
    its statistics say (a LIMIT after a range made PostgreSQL sort the rest of the table).
    `states_as_text`: on PostgreSQL the states as text, the stored bytes as UTF-8 (its driver
    reads a bytea as hex, twice the bytes); the database refuses a state that is not UTF-8.
    """
    record = recorder.events_record_cls
    engine = engine_of(recorder)
    state = json_text_column(engine, record.state) if states_as_text else record.state
    return (select(record.id, originator_column(engine, record.originator_id),
                   record.originator_version, record.topic, state)
            .where(record.id > after, record.id <= upto).order_by(record.id))


def chained_events_in(recorder: ChainedApplicationRecorder, after: int,
                      upto: int) -> Select[Any]:
    """The events of `events_in` (their states as text on PostgreSQL), each with its chain
    entry's seq, content hash, hash and stamp (NULLs if it has none)."""
    table = recorder.hashes_table
    record = recorder.events_record_cls
    # the window on the entries too: without it PostgreSQL read the whole table to join
    entry = and_(table.c.position == record.id, table.c.position > after,
                 table.c.position <= upto)
    return (events_in(recorder, after, upto, states_as_text=True)
            .add_columns(table.c.seq, table.c.content_hash, table.c.hash,
                         table.c.recorded_by, table.c.recorded_at_us)
            .outerjoin(table, entry))


def links_count(recorder: ChainedApplicationRecorder, after: int, upto: int) -> int:
    """How many chain entries there are at positions after `after` up to `upto`."""
    table = recorder.hashes_table
    query = (select(func.count()).select_from(table)
             .where(table.c.position > after, table.c.position <= upto))
    with engine_of(recorder).connect() as connection:
        return int(connection.execute(query).scalar_one())


def links_in(recorder: ChainedApplicationRecorder, after: int, upto: int) -> Select[Any]:
    """The chain entries at positions after `after` up to `upto`."""
    table = recorder.hashes_table
    return (select(table).where(table.c.position > after, table.c.position <= upto)
            .order_by(table.c.position))
