"""Verifying the hash chain: re-read every event in pages and name the first that does not fit."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from aggregates.errors import ConfigurationError, LedgerError
from ledger.chain import EMPTY, GENESIS, Digest, Link, content_hash, link_hash
from ledger.chained_recorder import ChainedApplicationRecorder
from ledger.raw_rows import originator_column, raw_rows, uuid_text

PAGE_SIZE = 5000
PARALLEL_FROM = 50_000  # events: below this, starting worker processes costs more than it saves
MAX_WORKERS = 8


class LedgerTampered(LedgerError):
    """The stored events no longer match their hash chain (or the digest given)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"tampered at position {problem.position} ({problem.kind}): "
                         f"{problem.message}")
        self.problem = problem


@dataclass(frozen=True)
class Problem:
    """The first event that does not fit the chain: where, what kind, and why."""

    position: int
    kind: str  # changed | missing | inserted | reordered | truncated
    message: str


@dataclass(frozen=True)
class Verification:
    """What `verify` found: events checked, the recomputed head, and the first problem if any."""

    events: int
    head: Digest
    problem: Problem | None = None
    extends: Digest | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "events": self.events, "head": self.head.as_dict(),
            "extends": str(self.extends) if self.extends else None,
            "problem": None if self.problem is None else {
                "position": self.problem.position, "kind": self.problem.kind,
                "message": self.problem.message,
            },
        }


def chained_recorder(app: Any) -> ChainedApplicationRecorder:
    """The application's recorder, which must be the chained one."""
    recorder = app.recorder
    if not isinstance(recorder, ChainedApplicationRecorder):
        raise ConfigurationError("this ledger is not stored with the hash-chained recorder")
    return recorder


def current_digest(app: Any) -> dict[str, Any]:
    """The head digest as stored (position, hash, number of events) for reports to print."""
    return head_digest(chained_recorder(app)).as_dict()


def head_digest(recorder: ChainedApplicationRecorder) -> Digest:
    """The stored head of the chain, or the empty digest."""
    table = recorder.hashes_table
    query = select(table.c.position, table.c.seq, table.c.hash).order_by(table.c.seq.desc())
    with _engine(recorder).connect() as connection:
        row = connection.execute(query.limit(1)).first()
    return EMPTY if row is None else Digest(row.position, row.hash, row.seq)


def digest_at(app: Any, position: int) -> Digest:
    """The digest of the ledger up to a position: the chain entry at or before it."""
    table = chained_recorder(app).hashes_table
    query = (select(table.c.position, table.c.seq, table.c.hash)
             .where(table.c.position <= position).order_by(table.c.seq.desc()).limit(1))
    with app.engine.connect() as connection:
        row = connection.execute(query).first()
    return EMPTY if row is None else Digest(row.position, row.hash, row.seq)


def verify_ledger(app: Any, digest: Digest | None = None, page: int = PAGE_SIZE,
                  workers: int | None = None) -> Verification:
    """Check the application's whole chain (and that it extends `digest`, if given)."""
    return verify_chain(chained_recorder(app), digest, page, workers)


def verify_chain(
    recorder: ChainedApplicationRecorder, digest: Digest | None = None, page: int = PAGE_SIZE,
    workers: int | None = None,
) -> Verification:
    """Re-read every event and chain entry in position order, a page at a time.

    A tight scan checks the chain first; only when something does not fit (or the digest
    is not in the chain) is the chain read again, slowly, to say exactly what and where.
    """
    stop = _last_position(recorder)
    if workers is None:
        workers = verify_workers(recorder, stop)
    scanned = _scan(recorder, stop, page, None if digest is None else digest.position,
                    workers)
    if scanned is not None:
        head, at_digest = scanned
        if digest is None:
            return Verification(head.events, head)
        if at_digest == digest.hash or (digest.position == 0 and digest.hash == GENESIS):
            return Verification(head.events, head, None, digest)
    return _explain(recorder, stop, digest, page)


def _scan(recorder: ChainedApplicationRecorder, stop: int, page: int,
          digest_position: int | None, workers: int) -> tuple[Digest, str | None] | None:
    """The head recomputed from every event, and the chained hash at `digest_position`;
    None as soon as anything does not fit (the caller then explains what).

    With several workers the positions are cut into ranges, each checked in its own
    process from the chain entry stored just before it; the ranges must then join up
    (each ends on the entry the next started from), which makes it the same check.
    """
    if workers <= 1:
        return _scan_range(recorder, 0, stop, EMPTY, page, digest_position)
    cuts = [stop * part // workers for part in range(workers + 1)]
    starts = [_entry_at_or_before(recorder, cut) for cut in cuts[:-1]]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_adopt, initargs=(recorder,)) as pool:
        parts = list(pool.map(_scan_adopted, cuts[:-1], cuts[1:], starts,
                              itertools.repeat(page), itertools.repeat(digest_position)))
    found = [part for part in parts if part is not None]
    if len(found) < len(parts) or any(
            part[0] != start for part, start in zip(found, starts[1:], strict=False)):
        return None
    at_digest = next((part[1] for part in found if part[1] is not None), None)
    return found[-1][0], at_digest


def verify_workers(recorder: ChainedApplicationRecorder, events: int) -> int:
    """One process per core for a large ledger in a file or on a server, else one."""
    database = str(_engine(recorder).url.database or "")
    if events < PARALLEL_FROM or not database or "memory" in database:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _scan_range(recorder: ChainedApplicationRecorder, after: int, stop: int, start: Digest,
                page: int, digest_position: int | None) -> tuple[Digest, str | None] | None:
    """`_scan` of the positions after `after` up to `stop`, from the chain entry `start`."""
    previous, position, seq, at_digest = start.hash, start.position, start.events, None
    while after < stop:
        upto = min(after + page, stop)
        events = raw_rows(_engine(recorder), _events_in(recorder, after, upto))
        links = raw_rows(_engine(recorder), _links_in(recorder, after, upto))
        if len(events) != len(links):
            return None
        ids: dict[object, str] = {}  # an aggregate's events come in runs: convert ids once
        for event, link in zip(events, links, strict=True):
            position, originator, version, topic, state = event
            seq += 1
            if position != link[0] or link[1] != seq:
                return None
            text = ids.get(originator) or ids.setdefault(originator, uuid_text(originator))
            content = content_hash(text, version, topic, state)
            if content != link[2]:
                return None
            previous = link_hash(previous, seq, position, content)
            if previous != link[3]:
                return None
            if position == digest_position:
                at_digest = previous
        after = upto
    return (Digest(position, previous, seq) if seq else EMPTY), at_digest


_ADOPTED: list[ChainedApplicationRecorder] = []


def _adopt(recorder: ChainedApplicationRecorder) -> None:
    """In a forked worker: use the parent's recorder with connections of its own."""
    _engine(recorder).dispose(close=False)
    _ADOPTED.append(recorder)


def _scan_adopted(after: int, stop: int, start: Digest, page: int,
                  digest_position: int | None) -> tuple[Digest, str | None] | None:
    return _scan_range(_ADOPTED[0], after, stop, start, page, digest_position)


def _entry_at_or_before(recorder: ChainedApplicationRecorder, position: int) -> Digest:
    """The chain entry stored at or before a position, as the digest it makes."""
    table = recorder.hashes_table
    query = (select(table.c.position, table.c.seq, table.c.hash)
             .where(table.c.position <= position).order_by(table.c.position.desc()).limit(1))
    with _engine(recorder).connect() as connection:
        row = connection.execute(query).first()
    return EMPTY if row is None else Digest(row.position, row.hash, row.seq)


def _explain(recorder: ChainedApplicationRecorder, stop: int, digest: Digest | None,
             page: int) -> Verification:
    """The chain re-read event by event, naming the first that does not fit and why."""
    events, links = _stored_events(recorder, stop, page), _links(recorder, stop, page)
    event, link = next(events, None), next(links, None)
    previous, expected, extends = GENESIS, 1, None
    if digest is not None and digest.position == 0:
        if digest.hash != GENESIS:
            return Verification(0, EMPTY, Problem(0, "changed", (
                f"digest {digest} cannot be: at position 0 the hash is {GENESIS}")))
        extends = digest

    position, seq = 0, 0  # the last event that fitted (head), kept as plain values

    def failed(problem: Problem) -> Verification:
        head = Digest(position, previous, seq) if seq else EMPTY
        return Verification(expected - 1, head, problem)

    while event is not None or link is not None:
        if link is None or (event is not None and event.id < link.position):
            assert event is not None
            return failed(Problem(event.id, "inserted", (
                f"{describe(event)} has no chain entry: it was added outside the ledger")))
        if event is None or link.position < event.id:
            return failed(Problem(link.position, "missing", (
                f"the event at position {link.position} (chained as #{link.seq}) "
                "has been deleted")))
        content = content_hash(event.originator_id, event.originator_version, event.topic,
                               _state(event.state))
        if content != link.content_hash:
            return failed(_content_mismatch(recorder, event, content))
        if link.seq != expected:
            return failed(_out_of_sequence(recorder, event, link, expected))
        chained = link_hash(previous, expected, event.id, content)
        if chained != link.hash:
            return failed(Problem(event.id, "changed", (
                f"the chain entry of {describe(event)} was altered: its hash does not follow "
                "from the event before it")))
        if digest is not None and extends is None:
            if event.id == digest.position:
                if chained != digest.hash:
                    return failed(Problem(event.id, "changed", (
                        f"the history up to position {event.id} differs from digest {digest}: "
                        "events at or before it were changed, and the chain rewritten")))
                extends = digest
            elif event.id > digest.position:
                return failed(Problem(digest.position, "missing", (
                    f"the event at position {digest.position}, head of digest {digest}, "
                    "is no longer in the ledger")))
        previous, position, seq = chained, event.id, expected
        expected += 1
        event, link = next(events, None), next(links, None)

    head = Digest(position, previous, seq) if seq else EMPTY
    if digest is not None and extends is None:
        return Verification(head.events, head, Problem(digest.position, "truncated", (
            f"the ledger ends at position {head.position} ({head.events} events), before "
            f"position {digest.position} of digest {digest}: events were removed from the end")))
    return Verification(head.events, head, None, extends)


def chain_entries(
    recorder: ChainedApplicationRecorder, stop: int, page: int = PAGE_SIZE
) -> Iterator[tuple[Any, Link]]:
    """Each stored event up to `stop` with its chain entry, in order (on a verified chain)."""
    events, links = _stored_events(recorder, stop, page), _links(recorder, stop, page)
    for event, link in itertools.zip_longest(events, links):
        if event is None or link is None or event.id != link.position:
            raise LedgerTampered(Problem(
                event.id if event is not None else link.position, "changed",
                "the ledger changed while it was being read: run `ledger verify`"))
        yield event, link


def describe(event: Any) -> str:
    """`event 7 (Learner.Enrolled, version 2 of 1f3e...)`: enough for a person to find it."""
    kind = str(event.topic).rsplit(":", 1)[-1]
    return (f"event {event.id} ({kind}, version {event.originator_version} "
            f"of {event.originator_id})")


def _out_of_sequence(
    recorder: ChainedApplicationRecorder, event: Any, link: Any, expected: int
) -> Problem:
    if link.seq > expected:
        return _seq_gap(recorder, event, link, expected)
    return Problem(event.id, "reordered", (
        f"{describe(event)} was chained as #{link.seq} but comes after #{expected - 1}"))


def _content_mismatch(
    recorder: ChainedApplicationRecorder, event: Any, content: str
) -> Problem:
    table = recorder.hashes_table
    query = select(table.c.position, table.c.seq).where(table.c.content_hash == content)
    with _engine(recorder).connect() as connection:
        elsewhere = connection.execute(query.limit(1)).first()
    if elsewhere is not None and elsewhere.position != event.id:
        return Problem(event.id, "reordered", (
            f"{describe(event)} is the event chained at position {elsewhere.position} "
            f"(#{elsewhere.seq}): stored events were moved"))
    return Problem(event.id, "changed", (
        f"{describe(event)} does not match its chain entry: its stored content "
        "(aggregate, version, topic or state bytes) was altered"))


def _seq_gap(
    recorder: ChainedApplicationRecorder, event: Any, link: Link, expected: int
) -> Problem:
    table = recorder.hashes_table
    query = select(table.c.position).where(table.c.seq == expected)
    with _engine(recorder).connect() as connection:
        moved = connection.execute(query.limit(1)).first()
    if moved is not None:
        return Problem(event.id, "reordered", (
            f"{describe(event)} was chained as #{link.seq}, but #{expected} is now at position "
            f"{moved.position}: events and their chain entries were moved"))
    return Problem(event.id, "missing", (
        f"chain entries #{expected}..#{link.seq - 1} before {describe(event)} are gone: "
        "events were deleted together with their chain entries"))


def _engine(recorder: ChainedApplicationRecorder) -> Any:
    engine = recorder.datastore.engine
    assert engine is not None
    return engine


def _last_position(recorder: ChainedApplicationRecorder) -> int:
    """The last position of events or chain entries, read in one snapshot."""
    record, table = recorder.events_record_cls, recorder.hashes_table
    query = select(
        select(func.max(record.id)).scalar_subquery(),
        select(func.max(table.c.position)).scalar_subquery(),
    )
    with _engine(recorder).connect() as connection:
        last_event, last_link = connection.execute(query).one()
    return max(last_event or 0, last_link or 0)


def _events_in(recorder: ChainedApplicationRecorder, after: int, upto: int) -> Select[Any]:
    """The stored events at positions after `after` up to `upto`.

    Pages are windows of positions, not LIMITs: the database reads only the window, whatever
    its statistics say (a LIMIT after a range made PostgreSQL sort the rest of the table).
    """
    record = recorder.events_record_cls
    originator = originator_column(_engine(recorder), record.originator_id)
    return (select(record.id, originator, record.originator_version, record.topic,
                   record.state)
            .where(record.id > after, record.id <= upto).order_by(record.id))


def _links_in(recorder: ChainedApplicationRecorder, after: int, upto: int) -> Select[Any]:
    """The chain entries at positions after `after` up to `upto`."""
    table = recorder.hashes_table
    return (select(table).where(table.c.position > after, table.c.position <= upto)
            .order_by(table.c.position))


def _stored_events(
    recorder: ChainedApplicationRecorder, stop: int, page: int
) -> Iterator[Any]:
    for after in range(0, stop, page):
        with _engine(recorder).connect() as connection:
            yield from connection.execute(
                _events_in(recorder, after, min(after + page, stop))).all()


def _links(recorder: ChainedApplicationRecorder, stop: int, page: int) -> Iterator[Any]:
    """Chain entries in order; rows have the attributes of a Link."""
    for after in range(0, stop, page):
        with _engine(recorder).connect() as connection:
            yield from connection.execute(
                _links_in(recorder, after, min(after + page, stop))).all()


def _state(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state
