"""Stored learner events decoded straight into what the report fold reads, without the mapper.

A rebuild reads every event: building a domain event object per row, with every value
transcoded back into Python, cost more than the fold itself. Reports need only plain JSON
values (dates as ISO text, which is how they are stored) and, for personal attributes,
whether a value was given, which the sealed envelope's shape says without any key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from aggregates.errors import LedgerError
from ledger.keys import ENCRYPTED
from ledger.raw_rows import uuid_text
from ledger.sealing import ENVELOPE, WARNING_MESSAGES, learner_event_name
from projections.timeline import Entry


class UnreadableState(LedgerError):
    """A stored event holds a value the reports cannot read: never skipped, always raised."""


def entries_of_rows(rows: Iterable[tuple[int, Any, int, str, bytes | memoryview | str]],
                    ) -> list[Entry]:
    """Stored learner events, as the driver returns their rows, as the fold reads them."""
    names: dict[str, str | None] = {}
    entries = []
    for position, originator, version, topic, state in rows:
        name = names.get(topic) or names.setdefault(topic, learner_event_name(topic))
        if name is None:
            raise UnreadableState(f"event {position} ({topic}) is not a learner event")
        entries.append(Entry(position, uuid_text(originator), version, name,
                             plain_state(position, state)))
    return entries


# Transcodings whose stored text is already the plain value the fold keeps (ISO dates).
ISO_TEXT = frozenset({"date_iso", "datetime_iso"})
# How the transcoder marks a wrapped value: a key, so never inside a JSON string (whose
# quotes would be escaped).
TYPE_KEY = b'"_type_":'
TYPE_KEY_TEXT = TYPE_KEY.decode()


def plain_state(position: int, state: bytes | memoryview | str) -> dict[str, Any]:
    """The stored state's attributes as plain values; sealed personal ones read `[encrypted]`.

    The common case, an ISO date or time as an attribute, is unwrapped in place; values
    wrapped deeper down (inside lists or mappings) are searched for only when the stored
    text holds more wrappers than that. The state as stored (bytes) or read as text.
    """
    text = bytes(state) if type(state) is memoryview else state
    decoded = orjson.loads(text)
    decoded.pop("originator_id", None)  # a column of the row, not part of what it recorded
    envelope = decoded.pop(ENVELOPE, None)
    unwrapped = 0
    for key, value in decoded.items():
        if type(value) is dict and _is_wrapped(value) and value["_type_"] in ISO_TEXT:
            decoded[key] = value["_data_"]
            unwrapped += 1
    if _wrappers(text) > unwrapped:
        for key, value in decoded.items():
            if type(value) is dict or (type(value) is list and value):
                decoded[key] = _plain(position, value)
    if envelope is not None:
        for attribute in envelope["shape"]:
            if attribute != WARNING_MESSAGES:
                decoded[attribute] = ENCRYPTED
    return decoded  # type: ignore[no-any-return]


def _wrappers(text: bytes | str) -> int:
    """How many values the transcoder wrapped, by their marks in the stored text."""
    return text.count(TYPE_KEY_TEXT) if isinstance(text, str) else text.count(TYPE_KEY)


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
