"""Redaction for sharing: dates of birth, postcodes and emails masked in rows and documents,
and in free text (notes, reasons, messages) any email, postcode, phone number, date or
National Insurance number."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
REDACTED_FIELDS = frozenset({"date_of_birth", "dob", "postcode", "email"})
FREE_TEXT_FIELDS = frozenset({"note", "reason", "message"})
EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b", re.IGNORECASE)
# +44 7700 900123, 07700 900123, (020) 7946 0018, 0161-496-0000: 10 or 11 digits from 0 or +44
PHONE = re.compile(r"(?<![\d+])(?:\+44\s?\(?0?\)?|\(?0)(?:[\s\-()]*\d){9,10}(?!\d)")
# AB 12 34 56 C (the prefix letters as HMRC issues them, any suffix A to D)
NI_NUMBER = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
                       re.IGNORECASE)
MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
DATE = re.compile(
    r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:{MONTHS})\.?,? \d{{4}}"
    rf"|(?:{MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}})\b", re.IGNORECASE)
FREE_TEXT_PATTERNS = (EMAIL, NI_NUMBER, DATE, PHONE, POSTCODE)
HELP = ("Mask for sharing: dates of birth, postcodes and emails, and in notes, reasons and "
        "messages any email, postcode, UK phone number, date or National Insurance number. "
        "Names, ULNs and the dates of events stay.")


def redact_text(text: str) -> str:
    """Free text with any email address, National Insurance number, date, UK phone number
    or UK postcode in it masked."""
    for pattern in FREE_TEXT_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any) -> Any:
    """A copy of a row, dict or list with dates of birth, postcodes and emails masked.

    Masks the fields by name at any depth, the old and new values of an amendment of those
    fields (`field`/`old`/`new`), the message of a data-quality warning about them, and
    emails, postcodes, phone numbers, dates and NI numbers written in notes, reasons and
    messages. Names, ULNs and the dates of events stay.
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
