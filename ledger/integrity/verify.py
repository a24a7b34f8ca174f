"""Verifying the hash chain: re-read every event in pages and name the first that does not fit."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from aggregates.errors import ConfigurationError, LedgerError
from ledger.bulk.progress import Progress
from ledger.bulk.workers import worker_count
from ledger.integrity.chain import EMPTY, GENESIS, Digest, Link, content_hash, link_hash
from ledger.integrity.chain_scan import engine_of, events_in, links_in, scan
from ledger.integrity.chained_recorder import ChainedApplicationRecorder

# positions read per query: each query (and on PostgreSQL its scan settings) costs a round
# trip; 20,000 verified 1,000,000 learners on PostgreSQL 23% faster than 5,000, and 50,000
# was slower again
PAGE_SIZE = 20_000


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
    kind: str  # changed | missing | inserted | reordered | truncated | unstamped | backdated
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
    with engine_of(recorder).connect() as connection:
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
                  workers: int | None = None, progress: Progress | None = None) -> Verification:
    """Check the application's whole chain (and that it extends `digest`, if given)."""
    return verify_chain(chained_recorder(app), digest, page, workers, progress)


def verify_chain(
    recorder: ChainedApplicationRecorder, digest: Digest | None = None, page: int = PAGE_SIZE,
    workers: int | None = None, progress: Progress | None = None,
) -> Verification:
    """Re-read every event and chain entry in position order, a page at a time.

    A tight scan checks the chain first; only when something does not fit (or the digest
    is not in the chain) is the chain read again, slowly, to say exactly what and where.
    """
    stop = _last_position(recorder)
    if workers is None:
        workers = worker_count(engine_of(recorder), stop)
    scanned = scan(recorder, stop, page, None if digest is None else digest.position,
                   workers, progress)
    if scanned is not None:
        head, at_digest = scanned
        if digest is None:
            return Verification(head.events, head)
        if at_digest == digest.hash or (digest.position == 0 and digest.hash == GENESIS):
            return Verification(head.events, head, None, digest)
    return _explain(recorder, stop, digest, page)


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
    last_at: int | None = None  # the last stamped entry's recorded time

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
        wrong = _wrong_type(event)
        if wrong:
            return failed(Problem(event.id, "changed", (
                f"event {event.id} has {wrong}: it was written outside the ledger")))
        content = content_hash(event.originator_id, event.originator_version, event.topic,
                               _state(event.state))
        if content != link.content_hash:
            return failed(_content_mismatch(recorder, event, content))
        if link.seq != expected:
            return failed(_out_of_sequence(recorder, event, link, expected))
        if link.recorded_at_us is None and last_at is not None:
            return failed(Problem(event.id, "unstamped", (
                f"the chain entry of {describe(event)} has no login and recorded time, "
                "though entries before it have: it was not chained by the ledger")))
        if link.recorded_at_us is not None and not isinstance(link.recorded_by, str):
            return failed(Problem(event.id, "changed", (
                f"the chain entry of {describe(event)} has a recorded time but no login")))
        if last_at is not None and link.recorded_at_us < last_at:
            return failed(Problem(event.id, "backdated", (
                f"{describe(event)} was recorded at {format_stamp(link.recorded_at_us)}, "
                f"before the event chained ahead of it ({format_stamp(last_at)}): "
                "recorded times only go forward")))
        chained = link_hash(previous, expected, event.id, content, link.recorded_by,
                            link.recorded_at_us)
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
        last_at = link.recorded_at_us if link.recorded_at_us is not None else last_at
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
    with engine_of(recorder).connect() as connection:
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
    with engine_of(recorder).connect() as connection:
        moved = connection.execute(query.limit(1)).first()
    if moved is not None:
        return Problem(event.id, "reordered", (
            f"{describe(event)} was chained as #{link.seq}, but #{expected} is now at position "
            f"{moved.position}: events and their chain entries were moved"))
    return Problem(event.id, "missing", (
        f"chain entries #{expected}..#{link.seq - 1} before {describe(event)} are gone: "
        "events were deleted together with their chain entries"))


def _last_position(recorder: ChainedApplicationRecorder) -> int:
    """The last position of events or chain entries, read in one snapshot."""
    record, table = recorder.events_record_cls, recorder.hashes_table
    query = select(
        select(func.max(record.id)).scalar_subquery(),
        select(func.max(table.c.position)).scalar_subquery(),
    )
    with engine_of(recorder).connect() as connection:
        last_event, last_link = connection.execute(query).one()
    return max(last_event or 0, last_link or 0)


def _stored_events(
    recorder: ChainedApplicationRecorder, stop: int, page: int
) -> Iterator[Any]:
    for after in range(0, stop, page):
        with engine_of(recorder).connect() as connection:
            yield from connection.execute(
                events_in(recorder, after, min(after + page, stop))).all()


def _links(recorder: ChainedApplicationRecorder, stop: int, page: int) -> Iterator[Any]:
    """Chain entries in order; rows have the attributes of a Link."""
    for after in range(0, stop, page):
        with engine_of(recorder).connect() as connection:
            yield from connection.execute(
                links_in(recorder, after, min(after + page, stop))).all()


def _state(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state


def _wrong_type(event: Any) -> str | None:
    """What is of the wrong type in a stored event (SQLite keeps any value in any column),
    or None when each column holds what the ledger stores there."""
    if not isinstance(event.state, bytes | memoryview):
        return f"a state stored as {type(event.state).__name__}, not bytes"
    if not isinstance(event.topic, str):
        return f"a topic stored as {type(event.topic).__name__}, not text"
    if not isinstance(event.originator_version, int):
        return f"a version stored as {type(event.originator_version).__name__}, not a number"
    if not isinstance(event.originator_id, UUID | str | bytes):
        return f"an aggregate id stored as {type(event.originator_id).__name__}"
    return None


def format_stamp(recorded_at_us: int | None) -> str:
    """A stamp's recorded time as ISO 8601 UTC text ('' for an unstamped entry)."""
    if recorded_at_us is None:
        return ""
    moment = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=recorded_at_us)
    return moment.isoformat()
