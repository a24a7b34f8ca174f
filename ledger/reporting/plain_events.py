"""Stored learner events decoded straight into what the report fold reads, without the mapper.

A rebuild reads every event: building a domain event object per row, with every value
transcoded back into Python, cost more than the fold itself. Reports need only plain JSON
values (dates as ISO text, which is how they are stored) and, for personal attributes,
whether a value was given, which the sealed envelope's shape says without any key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache, partial
from typing import Any, get_args, get_type_hints

import orjson

from aggregates.errors import LedgerError
from aggregates.learner import Learner
from ledger.privacy.keys import ENCRYPTED
from ledger.privacy.sealing import ENVELOPE, WARNING_MESSAGES, learner_event_name
from ledger.storage.raw_rows import uuid_text
from projections.timeline import Entry


class UnreadableState(LedgerError):
    """A stored event holds a value the reports cannot read: never skipped, always raised."""


# An Entry made from a tuple of its fields, without the Python call of Entry(...)'s __new__
# (a rebuild makes one for every learner event)
new_entry = partial(tuple.__new__, Entry)


def entries_of_rows(rows: Iterable[tuple[int, Any, int, str, bytes | memoryview | str]],
                    ) -> list[Entry]:
    """Stored learner events, as the driver returns their rows, as the fold reads them."""
    entries = []
    for position, originator, version, topic, state in rows:
        name, dates = _learner_event(topic)
        if name is None:
            raise UnreadableState(f"event {position} ({topic}) is not a learner event")
        plain = plain_state(position, state, dates)
        if name in VERSIONED:
            upcast(name, plain)
        entries.append(new_entry((position, uuid_text(originator), version, name, plain)))
    return entries


# Learner events whose class is past version 1: their older stored states are upcast as the
# library's mapper upcasts them, so a rebuild reads what a catch-up reads.
VERSIONED = frozenset(name for name, cls in vars(Learner).items()
                      if isinstance(cls, type) and getattr(cls, "class_version", 1) > 1)


def upcast(name: str, state: dict[str, Any]) -> None:
    """The state brought to its class's current version, as the library's mapper does."""
    cls = getattr(Learner, name)
    stored = state.pop("class_version", 1)
    for version in range(stored, cls.class_version):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)


@lru_cache(maxsize=128)
def _learner_event(topic: str) -> tuple[str | None, tuple[str, ...]]:
    """A learner event's name and the attributes its class declares as dates or times
    (None for another aggregate's event)."""
    name = learner_event_name(topic)
    cls = getattr(Learner, name, None) if name else None
    return name, date_attributes(cls) if isinstance(cls, type) else ()


def date_attributes(cls: type) -> tuple[str, ...]:
    """The attributes an event class declares as a date or a time (or None)."""
    return tuple(key for key, hint in get_type_hints(cls).items()
                 if any(kind in (date, datetime) for kind in (hint, *get_args(hint))))


# Transcodings whose stored text is already the plain value the fold keeps (ISO dates).
ISO_TEXT = frozenset({"date_iso", "datetime_iso"})
# How the transcoder marks a wrapped value: a key, so never inside a JSON string (whose
# quotes would be escaped).
TYPE_KEY = b'"_type_":'
TYPE_KEY_TEXT = TYPE_KEY.decode()


def plain_state(position: int, state: bytes | memoryview | str,
                dates: Iterable[str] | None = None) -> dict[str, Any]:
    """The stored state's attributes as plain values; sealed personal ones read `[encrypted]`.

    The common case, an ISO date or time as an attribute, is unwrapped in place: the
    attributes named in `dates` (those the event's class declares as dates or times), or
    else every attribute. Values wrapped anywhere else, deeper down too, are searched for
    only when the stored text holds more wrappers than that, so `dates` changes nothing but
    the time taken. The state as stored (bytes) or read as text.
    """
    text = bytes(state) if type(state) is memoryview else state
    decoded = orjson.loads(text)
    decoded.pop("originator_id", None)  # a column of the row, not part of what it recorded
    envelope = decoded.pop(ENVELOPE, None)
    unwrapped = 0
    for key in decoded if dates is None else dates:
        value = decoded.get(key)
        # `_is_wrapped(value)` written out: this runs for every date of every event folded
        if (type(value) is dict and len(value) == 2 and "_data_" in value
                and value.get("_type_") in ISO_TEXT):
            decoded[key] = value["_data_"]
            unwrapped += 1
    # how many values the transcoder wrapped, by their marks in the stored text
    if text.count(TYPE_KEY_TEXT if type(text) is str else TYPE_KEY) > unwrapped:
        for key, value in decoded.items():
            if type(value) is dict or (type(value) is list and value):
                decoded[key] = _plain(position, value)
    if envelope is not None:
        for attribute in envelope["shape"]:
            if attribute != WARNING_MESSAGES:
                decoded[attribute] = ENCRYPTED
    return decoded  # type: ignore[no-any-return]


def _plain(position: int, value: Any) -> Any:
    if type(value) is list:
        return [_plain(position, item) for item in value]
    if type(value) is not dict:
        return value
    if _is_wrapped(value):
        if value["_type_"] not in ISO_TEXT:
            raise UnreadableState(
                f"event {position} holds a {value['_type_']!r} value the reports cannot read")
        return value["_data_"]
    return {key: _plain(position, item) for key, item in value.items()}


def _is_wrapped(value: dict[str, Any]) -> bool:
    """A value the transcoder wrapped: exactly its type and its data."""
    return len(value) == 2 and "_type_" in value and "_data_" in value
