"""Redaction for sharing: dates of birth, postcodes and emails masked in rows and documents."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
REDACTED_FIELDS = frozenset({"date_of_birth", "dob", "postcode", "email"})
FREE_TEXT_FIELDS = frozenset({"note", "reason", "message"})
EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b", re.IGNORECASE)


def redact_text(text: str) -> str:
    """Free text with any email address or UK postcode in it masked."""
    return POSTCODE.sub(REDACTED, EMAIL.sub(REDACTED, text))


def redact(value: Any) -> Any:
    """A copy of a row, dict or list with dates of birth, postcodes and emails masked.

    Masks the fields by name at any depth, the old and new values of an amendment of those
    fields (`field`/`old`/`new`), the message of a data-quality warning about them, and
    emails and postcodes written in notes and reasons. Names, ULNs and dates of events stay.
    """
    if isinstance(value, dict):
        about_masked = value.get("field") in REDACTED_FIELDS
        out: dict[Any, Any] = {}
        for key, item in value.items():
            masked = key in REDACTED_FIELDS or (
                about_masked and key in ("old", "new", "message")
            )
            if masked and item is not None:
                out[key] = REDACTED
            elif key in FREE_TEXT_FIELDS and isinstance(item, str):
                out[key] = redact_text(item)
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
