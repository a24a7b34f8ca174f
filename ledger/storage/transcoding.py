"""How event state becomes JSON bytes: the library's JSON format, with business dates, encoded
without the library's per-call set-up (and by orjson where it gives the same bytes)."""

from __future__ import annotations

import json.encoder
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)

DATES_KEPT = 10_000  # business dates whose encoding a transcoder keeps

# Values orjson writes as the library's encoder does, or hands to `default` (dates, times and
# decimals, which the transcodings then tag). It writes UUIDs, floats, enums and subclasses
# of built-in types its own way, so a value holding any of them takes the library's path.
ORJSON_SAME = frozenset({str, int, bool, type(None), date, datetime, Decimal})
ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class DateAsISO(Transcoding):
    """Stores business dates as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def register_ledger_transcodings(transcoder: JSONTranscoder) -> None:
    """The library's transcodings (UUID, Decimal, datetime) and business dates."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)


class LedgerTranscoder(JSONTranscoder):
    """The library's JSON transcoder with the ledger's transcodings, giving the same bytes.

    `json.JSONEncoder.encode` builds a new C encoder on every call, which costs about as much
    as encoding a small event; this one builds it once, with the library's settings (compact
    separators, non-ASCII kept, the transcodings as `default`).
    """

    def __init__(self) -> None:
        super().__init__()
        register_ledger_transcodings(self)
        self._dates: dict[date, dict[str, Any]] = {}
        self._last_time: tuple[datetime | None, dict[str, Any]] = (None, {})
        make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
        self._encode_once = None if make is None else make(
            None, self._encode_obj, json.encoder.encode_basestring,  # type: ignore[attr-defined]
            None, ":", ",", False, False, True)

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and _orjson_writes_alike(obj):
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=ORJSON_OPTIONS)
            except orjson.JSONEncodeError:
                pass  # such as an integer beyond 64 bits, or text that is not UTF-8
        if self._encode_once is None or isinstance(obj, str):
            return super().encode(obj)
        return "".join(self._encode_once(obj, 0)).encode("utf8")

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        """As the library's, but each business date's encoding is kept (a bulk import's
        events repeat a few hundred dates), and so is the last recorded time's (a batch of
        events shares one): the encoder only reads them, never changes them."""
        kind = type(o)
        if kind is date:
            encoded = self._dates.get(o)
            if encoded is None:
                if len(self._dates) >= DATES_KEPT:
                    self._dates.clear()
                encoded = self._dates[o] = super()._encode_obj(o)
            return encoded
        if kind is datetime:
            last, encoded = self._last_time
            if o is not last:
                encoded = super()._encode_obj(o)
                self._last_time = (o, encoded)
            return encoded
        return super()._encode_obj(o)


def _orjson_writes_alike(state: dict[Any, Any]) -> bool:
    """Whether orjson gives the library's bytes for this event state: text keys, and values
    only of the types in ORJSON_SAME, in lists, tuples and dicts (scanned top level first:
    an event's values are mostly plain)."""
    for key, value in state.items():
        if type(key) is not str:
            return False
        if type(value) not in ORJSON_SAME and not _nested_alike(value):
            return False
    return True


def _nested_alike(value: Any) -> bool:
    kind = type(value)
    if kind in ORJSON_SAME:
        return True
    if kind is dict:
        return _orjson_writes_alike(value)
    if kind is list or kind is tuple:
        return all(map(_nested_alike, value))
    return False
