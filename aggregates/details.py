"""A learner's details as typed: parsed one field at a time, with their data-quality warnings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from aggregates.errors import InvalidValue, shown
from aggregates.learner import DETAIL_FIELDS, Learner
from aggregates.values import (
    check_age_at_start,
    check_birth_date,
    check_name,
    parse_date,
    parse_email,
    parse_gender,
    parse_postcode,
)


def parse_detail(name: str, value: str) -> tuple[Any, list[dict[str, str]]]:
    """Parse one learner detail from text; returns the value and any data-quality warnings."""
    if name in ("given_name", "family_name"):
        parsed, warnings = check_name(value, name)
        return parsed, [w.as_dict() for w in warnings]
    if name == "date_of_birth":
        born = parse_date(value, name)
        return born, [w.as_dict() for w in check_birth_date(born, date.today())]
    parser = _DETAIL_PARSERS.get(name)
    if parser is None:
        raise InvalidValue("field", f"{shown(name)} is not one of {', '.join(DETAIL_FIELDS)}")
    return parser(value), []


def amended_age_warnings(learner: Learner, name: str, value: Any) -> list[dict[str, str]]:
    """A new date of birth checked against each live enrolment's programme start, as
    enrolling checks it (one warning at most)."""
    if name != "date_of_birth":
        return []
    for ref in learner.enrolment_refs:
        start = learner.enrolment(ref).values["programme_start"]
        found = check_age_at_start(value, start)
        if found:
            return [found[0].as_dict()]
    return []


_DETAIL_PARSERS: dict[str, Callable[[str], Any]] = {
    "gender": parse_gender,
    "postcode": parse_postcode,
    "email": parse_email,
    "title": lambda text: text.strip() or None,
}
