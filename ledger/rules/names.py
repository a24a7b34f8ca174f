"""Awarding-body names: a name that spells a known body apart from case and spacing is
suggested, never taken for it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from aggregates.errors import InvalidValue
from aggregates.values import parse_awarding_body


def suggest_awarding_body(text: str, known: Iterable[str]) -> str | None:
    """The known awarding body `text` spells apart from case and spacing, if it is not
    exactly that body's code already."""
    compact = re.sub(r"[\s_\-.]+", "", text).upper()
    if compact == text.strip() or compact not in set(known):
        return None
    return compact


def with_suggestion(message: str, text: str, known: Iterable[str]) -> str:
    """The message, with the known body `text` may mean offered."""
    suggestion = suggest_awarding_body(text, known)
    if suggestion is None or suggestion == text.strip().upper():
        return message
    return f"{message}; did you mean {suggestion}? (the ledger does not take one for the other)"


def parse_known_awarding_body(text: str, known: Iterable[str]) -> str:
    """An awarding-body code; refused with the known body it may mean, if any."""
    try:
        return parse_awarding_body(text)
    except InvalidValue as error:
        raise InvalidValue(error.field, with_suggestion(error.message, text, known)) from None
