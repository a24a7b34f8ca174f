"""How event state becomes JSON bytes: the library's JSON format, with business dates, encoded
without the library's per-call set-up."""

from __future__ import annotations

import json.encoder
from datetime import date, datetime
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)


class DateAsISO(Transcoding):
    """Stores business dates as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class RecordedTimeAsISO(DatetimeAsISO):
    """The library's datetimes as ISO strings, each worked out once for the same datetime
    given again in a row: a bulk import's batch of events shares one recorded time."""

    def __init__(self) -> None:
        self._last: tuple[datetime | None, str] = (None, "")

    def encode(self, obj: datetime) -> str:
        last, text = self._last
        if obj is not last:
            text = obj.isoformat()
            self._last = (obj, text)
        return text


def register_ledger_transcodings(transcoder: JSONTranscoder) -> None:
    """The library's transcodings (UUID, Decimal, datetime) and business dates."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), RecordedTimeAsISO(), DateAsISO()):
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
        make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
        self._encode_once = None if make is None else make(
            None, self._encode_obj, json.encoder.encode_basestring,  # type: ignore[attr-defined]
            None, ":", ",", False, False, True)

    def encode(self, obj: Any) -> bytes:
        if self._encode_once is None or isinstance(obj, str):
            return super().encode(obj)
        return "".join(self._encode_once(obj, 0)).encode("utf8")
