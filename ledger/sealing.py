"""Personal attributes of learner events, sealed with the learner's key before they are stored."""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from aggregates.learner import Learner, personal_attributes
from ledger.crypto import KeyUnavailable, LearnerErased, OpenFailed, seal, unseal
from ledger.keys import ENCRYPTED, ERASED, KeyStore
from ledger.raw_rows import uuid_text

LEARNER_TOPIC = f"{Learner.__module__}:{Learner.__qualname__}."
ENVELOPE = "_sealed"
WARNING_MESSAGES = "warnings.message"

# Data-quality warnings quote the values they warn about: their messages are personal.
WARNINGS_QUOTE_VALUES = frozenset({"Recorded", "Enrolled"})


class Sealed(str):
    """What a personal value reads as without its key: `[encrypted]` or `[erased]`."""

    __slots__ = ()


def learner_event_name(topic: str) -> str | None:
    """`Withdrawn` for a Learner event's topic; None for other aggregates' events."""
    return topic.removeprefix(LEARNER_TOPIC) if topic.startswith(LEARNER_TOPIC) else None


def _context(originator_id: Any, version: int, topic: str) -> bytes:
    return f"{uuid_text(originator_id)}/{version}/{topic}".encode()


class SealingMapper(Mapper[UUID]):
    """Stores a learner event's personal attributes as one AES-GCM envelope under their key."""

    def __init__(self, transcoder: Transcoder, keys: KeyStore) -> None:
        super().__init__(transcoder)
        self.keys = keys

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        topic = get_topic(type(domain_event))
        name = learner_event_name(topic)
        if name is None:
            return super().to_stored_event(domain_event)
        given = vars(domain_event)
        secret = {attribute: given[attribute] for attribute in personal_attributes(name)
                  if given.get(attribute) is not None}
        quotes = name in WARNINGS_QUOTE_VALUES and given.get("warnings")
        if not secret and not quotes:  # most events: nothing personal, nothing to copy
            return super().to_stored_event(domain_event)
        state = {key: value for key, value in given.items() if key not in secret}
        shape: dict[str, list[str] | None] = {
            attribute: list(value) if isinstance(value, dict) else None
            for attribute, value in secret.items()
        }
        if quotes:
            secret[WARNING_MESSAGES] = [w.get("message") for w in state["warnings"]]
            shape[WARNING_MESSAGES] = None
            state["warnings"] = [{**w, "message": None} for w in state["warnings"]]
        key = self.keys.key_for_writing(domain_event.originator_id)
        context = _context(domain_event.originator_id, domain_event.originator_version, topic)
        sealed = seal(key, self.transcoder.encode(secret), context)
        state[ENVELOPE] = {"v": 1, "data": base64.b64encode(sealed).decode(), "shape": shape}
        clone = object.__new__(type(domain_event))
        object.__setattr__(clone, "__dict__", state)
        return super().to_stored_event(clone)

    def to_domain_event(
        self, stored_event: StoredEvent, *, open_personal: bool = True
    ) -> DomainEventProtocol[UUID]:
        """The domain event; with open_personal=False its personal values read `[encrypted]`
        without a key being looked up (for projections, which keep no personal data)."""
        domain_event = super().to_domain_event(stored_event)
        state = domain_event.__dict__
        envelope = state.pop(ENVELOPE, None)
        if envelope is None:
            return domain_event
        secret = (self._open(envelope, stored_event) if open_personal
                  else _markers(envelope, Sealed(ENCRYPTED)))
        messages = secret.pop(WARNING_MESSAGES, None)
        if isinstance(messages, Sealed):
            messages = [messages] * len(state["warnings"])
        if messages is not None:
            state["warnings"] = [
                {**w, "message": m} for w, m in zip(state["warnings"], messages, strict=False)
            ]
        state.update(secret)
        return domain_event

    def _open(self, envelope: dict[str, Any], stored: StoredEvent) -> dict[str, Any]:
        originator = UUID(str(stored.originator_id))
        key = self.keys.key_for_reading(originator)
        if isinstance(key, bytes):
            context = _context(originator, stored.originator_version, stored.topic)
            try:
                opened = unseal(key, base64.b64decode(envelope["data"]), context)
                return dict(self.transcoder.decode(opened))
            except (OpenFailed, ValueError, KeyError):
                pass  # altered or unreadable ciphertext reads as [encrypted], never as text
        return _markers(envelope, Sealed(key) if isinstance(key, str) else Sealed(ENCRYPTED))


def _markers(envelope: dict[str, Any], marker: Sealed) -> dict[str, Any]:
    """The sealed attributes, each value (or each value of a sealed dict) as the marker."""
    return {attribute: marker if keys is None else dict.fromkeys(keys, marker)
            for attribute, keys in envelope["shape"].items()}


def is_sealed(value: Any) -> bool:
    """True for a personal value that could not be decrypted."""
    return isinstance(value, Sealed)


def holds_encrypted(value: Any) -> bool:
    """True when a value (or any value inside it) is personal data that could not be opened
    (not erased: `[erased]` is what an erasure is meant to show)."""
    if isinstance(value, dict):
        return any(holds_encrypted(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(holds_encrypted(item) for item in value)
    return is_sealed(value) and value == ENCRYPTED


def why_encrypted(keys: KeyStore) -> str:
    """Why personal values read `[encrypted]`: the master key, or the learner's own data."""
    if keys.master_for_reading() is None:
        return keys.why_locked()
    return ("the learner's key or ciphertext does not open with this ledger's master key "
            "(altered in the database?)")


def check_recordable(learner: Learner, keys: KeyStore) -> None:
    """Refuse to record on an erased learner or one whose personal data cannot be opened."""
    erased = learner.latest("erased")
    if erased is not None:
        raise LearnerErased(
            f"learner {learner.reference} at {learner.centre} was erased on "
            f"{erased.occurred_on.isoformat()}: nothing more can be recorded"
        )
    if is_sealed(learner.detail("family_name")):
        if learner.detail("family_name") == ERASED:
            raise LearnerErased(f"learner {learner.reference}'s key was destroyed")
        raise KeyUnavailable(
            f"learner {learner.reference}'s personal data cannot be decrypted: "
            f"{keys.why_locked()}; changes need the ledger's master key"
        )
