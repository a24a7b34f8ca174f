"""The hash chain's rules: how an event and its link are hashed, and what a digest is."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from uuid import UUID

from aggregates.errors import LedgerError

HASH_VERSION = b"ledger-chain/1"
GENESIS = "0" * 64
_DIGEST = re.compile(r"^(?P<position>\d+):(?P<hash>[0-9a-f]{64})$")


class BadDigest(LedgerError, ValueError):
    """A digest given on the command line is not POSITION:HASH."""


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def originator_text(originator_id: UUID | str) -> str:
    """The canonical text of an aggregate id (lower-case hyphenated for a UUID)."""
    return str(originator_id)


def content_hash(originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    """SHA-256 over one stored event's content: aggregate id, version, topic and state bytes.

    Each field is length-prefixed, so no two different events frame to the same bytes. The
    recorded time is inside the state bytes (the library's `timestamp`), so it is covered too.
    """
    digest = hashlib.sha256(HASH_VERSION)
    digest.update(_field(originator_text(originator_id).encode()))
    digest.update(_field(str(int(version)).encode()))
    digest.update(_field(topic.encode()))
    digest.update(_field(bytes(state)))
    return digest.hexdigest()


def link_hash(previous: str, seq: int, position: int, content: str) -> str:
    """SHA-256 chaining one event to the one before it: previous hash, seq, position, content."""
    digest = hashlib.sha256(HASH_VERSION)
    digest.update(bytes.fromhex(previous))
    digest.update(int(seq).to_bytes(8, "big"))
    digest.update(int(position).to_bytes(8, "big"))
    digest.update(bytes.fromhex(content))
    return digest.hexdigest()


@dataclass(frozen=True)
class Link:
    """One entry of the chain: the event at `position` is the `seq`-th event chained."""

    position: int
    seq: int
    content_hash: str
    hash: str


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
