"""What the projections need from rule sets and calendars (given by ledger/, never imported)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol


class RuleLike(Protocol):
    """One rule of the version in force: id, citation and parameters."""

    id: str
    awarding_body: str
    version: str
    clause: str
    severity: str
    params: dict[str, Any]

    @property
    def reference(self) -> str:
        """How a finding cites the rule: as an assessor cites it (`IMI registration guidance
        (issue 10), introduction`), or its other source (`centre policy: ...`)."""
        ...


class CalendarLike(Protocol):
    """A centre's working-day calendar."""

    def add_working_days(self, start: date, count: int) -> date: ...


class PolicyLike(Protocol):
    """The rule book: rules in force for an AO on a programme start date; a centre's calendar."""

    at_risk_working_days: int  # an unsubmitted registration this close to its deadline

    def rules_in_force(self, awarding_body: str, on: date) -> Mapping[str, RuleLike] | None: ...

    def has_rule_set(self, awarding_body: str) -> bool: ...

    def calendar_for(self, centre: str) -> CalendarLike: ...


def add_days(start: date, days: int, unit: str, calendar: CalendarLike) -> date:
    """The last day of a window of `days` calendar or working days after `start` (day 0)."""
    if unit == "working":
        return calendar.add_working_days(start, days)
    return start + timedelta(days=days)


def describe_days(days: int, unit: str) -> str:
    """`25 working days`, `90 days` or `1 day`."""
    word = "day" if days == 1 else "days"
    return f"{days} working {word}" if unit == "working" else f"{days} {word}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover
