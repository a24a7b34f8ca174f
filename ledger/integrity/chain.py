"""The hash chain's rules: how an event and its link are hashed, and what a digest is."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from typing import Any
from uuid import UUID

from aggregates.errors import LedgerError

HASH_VERSION = b"ledger-chain/1"  # content hashes, and the links of unstamped entries
STAMPED_HASH_VERSION = b"ledger-chain/2"  # links that also cover the login and recorded time
GENESIS = "0" * 64
_LENGTH = struct.Struct(">Q").pack
_TWO_NUMBERS = struct.Struct(">QQ").pack
_DIGEST = re.compile(r"^(?P<position>\d+):(?P<hash>[0-9a-f]{64})$")


class BadDigest(LedgerError, ValueError):
    """A digest given on the command line is not POSITION:HASH."""


def content_hash(originator_id: UUID | str, version: int, topic: str,
                 state: bytes | memoryview) -> str:
    """SHA-256 over one stored event's content: aggregate id, version, topic and state bytes.

    Each field is length-prefixed, so no two different events frame to the same bytes. The
    recorded time is inside the state bytes (the library's `timestamp`), so it is covered too.
    """
    return content_digest(framed_id(originator_id), version, topic, state).hex()


def framed_id(originator_id: UUID | str) -> bytes:
    """An aggregate id as `content_digest` takes it: its text, length-prefixed."""
    originator = str(originator_id).encode()
    return _LENGTH(len(originator)) + originator


def content_digest(framed_originator: bytes, version: int, topic: str,
                   state: bytes | memoryview) -> bytes:
    """`content_hash` as bytes, of an aggregate id already framed (`framed_id`): for loops
    over many events of few aggregates. (One hash over the joined bytes: the same digest
    as updating field by field, but faster.)"""
    return sha256(b"".join((
        HASH_VERSION, framed_originator, _framed(version), _framed(topic),
        _LENGTH(len(state)), state,
    ))).digest()


@lru_cache(maxsize=16_384)  # versions and topics repeat a lot: frame each once
def _framed(value: int | str) -> bytes:
    data = (value if isinstance(value, str) else str(int(value))).encode()
    return _LENGTH(len(data)) + data


def link_hash(previous: str, seq: int, position: int, content: str,
              recorded_by: str | None = None, recorded_at_us: int | None = None) -> str:
    """SHA-256 chaining one event to the one before it: previous hash, seq, position, content,
    and (on a stamped entry, `STAMPED_HASH_VERSION`) the recording login and recorded time."""
    return link_digest(bytes.fromhex(previous), seq, position, bytes.fromhex(content),
                       stamp_bytes(recorded_by, recorded_at_us)).hex()


def stamp_bytes(recorded_by: str | None, recorded_at_us: int | None) -> bytes | None:
    """A stamp as the link hashes it: the login, length-prefixed, then the recorded time in
    microseconds since 1970-01-01 UTC as 8 bytes; None for an unstamped (version 1) entry."""
    if recorded_by is None and recorded_at_us is None:
        return None
    if recorded_by is None or recorded_at_us is None:
        raise ValueError("a stamp has both a login and a recorded time")
    login = recorded_by.encode()
    return _LENGTH(len(login)) + login + _LENGTH(recorded_at_us)


def link_digest(previous: bytes, seq: int, position: int, content: bytes,
                stamp: bytes | None = None) -> bytes:
    """`link_hash` of hashes as bytes, not hex: for loops that chain one link on another.
    `stamp` is `stamp_bytes` of a stamped entry, None for a version 1 one. (`chain_values`
    and the PostgreSQL trigger, `ledger.integrity.server_chain`, write the same hash out:
    change them together.)"""
    if stamp is None:
        return sha256(b"".join((HASH_VERSION, previous, _TWO_NUMBERS(seq, position),
                                content))).digest()
    return sha256(b"".join((STAMPED_HASH_VERSION, previous, _TWO_NUMBERS(seq, position),
                            content, stamp))).digest()


def chain_values(head: tuple[int, str], positions: Iterable[int],
                 contents: Iterable[str], recorded_by: str, recorded_at_us: int) -> list[Any]:
    """The chain's new stamped links after `head` (its seq and hash) as one flat list, as a
    multi-row INSERT takes them: position, seq, content hash, hash, login, recorded time,
    for each event in turn (one stamp for the whole batch).

    The links of `link_digest`, written out in the loop: a bulk import stores one link an
    event in a single process, and calling it cost a third more.
    """
    seq, previous = head[0], bytes.fromhex(head[1])
    stamp = stamp_bytes(recorded_by, recorded_at_us)
    values: list[Any] = []
    add, join, fromhex, pack = values.extend, b"".join, bytes.fromhex, _TWO_NUMBERS
    for position, content in zip(positions, contents, strict=True):
        seq += 1
        previous = sha256(join((STAMPED_HASH_VERSION, previous, pack(seq, position),
                                fromhex(content), stamp))).digest()
        add((position, seq, content, previous.hex(), recorded_by, recorded_at_us))
    return values


@dataclass(frozen=True)
class Link:
    """One entry of the chain: the event at `position` is the `seq`-th event chained."""

    position: int
    seq: int
    content_hash: str
    hash: str
    recorded_by: str | None = None  # the login that recorded it (None: an unstamped entry)
    recorded_at_us: int | None = None  # when, in microseconds since 1970-01-01 UTC


@dataclass(frozen=True)
class Digest:
    """The head of the chain: the last event's position and its chained hash."""

    position: int
    hash: str
    events: int = 0

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"

    def as_dict(self) -> dict[str, object]:
        return {"digest": str(self), "position": self.position, "hash": self.hash,
                "events": self.events}

    @classmethod
    def parse(cls, text: str) -> Digest:
        """A digest from its POSITION:HASH text."""
        match = _DIGEST.match(text.strip().lower())
        if not match:
            raise BadDigest(
                f"digest {text!r} is not POSITION:HASH (e.g. 42:{'ab' * 32})"
            )
        return cls(int(match["position"]), match["hash"])


EMPTY = Digest(0, GENESIS, 0)
