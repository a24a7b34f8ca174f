"""Personal attributes of learner events, sealed with the learner's key before they are stored."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from aggregates.learner import Learner, personal_attributes
from ledger.privacy.crypto import KeyUnavailable, LearnerErased, OpenFailed, seal, unseal
from ledger.privacy.key_reading import ENCRYPTED, ERASED, KeyReading
from ledger.storage.raw_rows import uuid_text

LEARNER_TOPIC = f"{Learner.__module__}:{Learner.__qualname__}."
ENVELOPE = "_sealed"
WARNING_MESSAGES = "warnings.message"
ORIGINATOR = frozenset({"originator_id", "originator_version"})
NOT_MEMBERS = ORIGINATOR | {"timestamp"}  # what a prepared event's members leave out
TIMESTAMP_MEMBER = b'{"timestamp":'
ENVELOPE_MEMBER = b',"' + ENVELOPE.encode() + b'":{"v":1,"data":"'

# Data-quality warnings quote the values they warn about: their messages are personal.
WARNINGS_QUOTE_VALUES = frozenset({"Recorded", "Enrolled", "DetailsAmended"})


class Sealed(str):
    """What a personal value reads as without its key: `[encrypted]` or `[erased]`."""

    __slots__ = ()


def learner_event_name(topic: str) -> str | None:
    """`Withdrawn` for a Learner event's topic; None for other aggregates' events."""
    return topic.removeprefix(LEARNER_TOPIC) if topic.startswith(LEARNER_TOPIC) else None


def _context(originator_id: Any, version: int, topic: str) -> bytes:
    return f"{uuid_text(originator_id)}/{version}/{topic}".encode()


class EventClass(NamedTuple):
    """What preparing an event needs to know of its class, worked out once per class."""

    topic: str
    personal: tuple[str, ...]  # the attributes holding personal data (none off a Learner)
    quotes_values: bool  # whether its warnings' messages quote personal values
    class_version: int


@cache
def event_class(cls: type) -> EventClass:
    """The class's topic, personal attributes and version, as `prepare` uses them."""
    topic = get_topic(cls)
    name = learner_event_name(topic)
    return EventClass(topic, () if name is None else personal_attributes(name),
                      name in WARNINGS_QUOTE_VALUES, getattr(cls, "class_version", 1))


def _personal_split(given: dict[str, Any], kind: EventClass
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str] | None]] | None:
    """An event's state without its personal values (and with its warnings' messages
    blanked where they quote them), those values, and the shape of each (a dict's keys,
    else None); None when it holds nothing personal."""
    secret = {attribute: given[attribute] for attribute in kind.personal
              if given.get(attribute) is not None}
    quotes = kind.quotes_values and given.get("warnings")
    if not secret and not quotes:
        return None
    state = {key: value for key, value in given.items() if key not in secret}
    shape: dict[str, list[str] | None] = {
        attribute: list(value) if isinstance(value, dict) else None
        for attribute, value in secret.items()
    }
    if quotes:
        secret[WARNING_MESSAGES] = [w.get("message") for w in state["warnings"]]
        shape[WARNING_MESSAGES] = None
        state["warnings"] = [{**w, "message": None} for w in state["warnings"]]
    return state, secret, shape


def _timestamp_first(state: dict[str, Any]) -> bool:
    """Whether the timestamp comes first once the originator's id and version are left out
    (so in the stored JSON): it does in the library's events."""
    for name in state:
        if name not in ORIGINATOR:
            return name == "timestamp"
    return False


class PreparedEvent(NamedTuple):
    """An event encoded but for its recorded time and its seal: `members` is its state's
    JSON after the timestamp, without the braces; `personal` the JSON of its personal values
    (to seal) and of their shape, or None when it holds none."""

    originator_id: UUID
    originator_version: int
    topic: str
    members: bytes
    personal: tuple[bytes, bytes] | None


class SealingMapper(Mapper[UUID]):
    """Stores a learner event's personal attributes as one AES-GCM envelope under their key.

    It takes no compressor and no cipher (the library's, for whole states): the reports read
    the stored JSON as it is, and personal values are sealed per learner instead.
    """

    def __init__(self, transcoder: Transcoder, keys: KeyReading) -> None:
        super().__init__(transcoder)
        self.keys = keys

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """The event as stored: prepared, then finished at its own recorded time."""
        timestamp = self.transcoder.encode(domain_event.timestamp)  # type: ignore[attr-defined]
        return self.finish(self.prepare(domain_event), timestamp)

    def prepare(self, domain_event: DomainEventProtocol[UUID]) -> PreparedEvent:
        """An event encoded ahead of storing, all but its recorded time and its seal (the
        import's check prepares its events and its write pass finishes them, stamped with
        the time they are stored)."""
        kind = event_class(type(domain_event))
        given = vars(domain_event)
        if not _timestamp_first(given):
            raise TypeError(f"{kind.topic}: an event's state must begin with its originator's "
                            "id and version and its timestamp")
        split = _personal_split(given, kind)
        members = dict(given if split is None else split[0])
        for name in NOT_MEMBERS:
            del members[name]
        if kind.class_version > 1:  # written as the library writes it, after the attributes
            members["class_version"] = kind.class_version
        personal = None if split is None else (self.transcoder.encode(split[1]),
                                               self.transcoder.encode(split[2]))
        return PreparedEvent(domain_event.originator_id, domain_event.originator_version,
                             kind.topic, self.transcoder.encode(members)[1:-1], personal)

    def finish(self, prepared: PreparedEvent, recorded: bytes) -> StoredEvent:
        """The stored event of a prepared one, recorded at `recorded` (the transcoder's
        encoding of a datetime): the state's JSON as the library writes it, the timestamp
        first and the sealed envelope last."""
        parts = [TIMESTAMP_MEMBER, recorded]
        if prepared.members:
            parts += (b",", prepared.members)
        if prepared.personal is not None:
            secret, shape = prepared.personal
            originator, version = prepared.originator_id, prepared.originator_version
            key = self.keys.key_for_writing(originator)
            sealed = seal(key, secret, _context(originator, version, prepared.topic))
            parts += (ENVELOPE_MEMBER, base64.b64encode(sealed), b'","shape":', shape, b"}")
        parts.append(b"}")
        return StoredEvent(originator_id=prepared.originator_id,
                           originator_version=prepared.originator_version,
                           topic=prepared.topic, state=b"".join(parts))

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


def why_encrypted(keys: KeyReading) -> str:
    """Why personal values read `[encrypted]`: the master key, or the learner's own data."""
    if keys.master_for_reading() is None:
        return keys.why_locked()
    return ("the learner's key or ciphertext does not open with this ledger's master key "
            "(altered in the database?)")


def check_recordable(learner: Learner, keys: KeyReading) -> None:
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
