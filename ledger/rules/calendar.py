"""Working days by UK nation: weekends, the nation's bank holidays and centre closure days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

from aggregates.errors import ConfigurationError

NATIONS = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern ireland": "NIR",
}
NATION_NAMES = {code: name.title() for name, code in NATIONS.items()}
DEFAULT_NATION = "England"


def nation_code(name: str) -> str:
    """The `holidays` subdivision code for a nation name (or code), e.g. Wales -> WLS."""
    key = " ".join(name.replace("-", " ").replace("_", " ").split()).lower()
    if key in NATIONS:
        return NATIONS[key]
    if key.upper() in NATION_NAMES:
        return key.upper()
    choices = ", ".join(NATION_NAMES.values())
    raise ConfigurationError(f"nation {name!r} is not one of {choices}")


class WorkingCalendar:
    """Monday to Friday, except the nation's bank holidays and the centre's closure days."""

    def __init__(self, nation: str = DEFAULT_NATION, closures: Iterable[date] = ()) -> None:
        self.subdivision = nation_code(nation)
        self.nation = NATION_NAMES[self.subdivision]
        self.closures = frozenset(closures)
        self._holidays = holidays.country_holidays("GB", subdiv=self.subdivision)

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.nation!r}, closures={sorted(self.closures)!r})"

    def is_working_day(self, day: date) -> bool:
        """True on a weekday that is neither a bank holiday nor a closure day."""
        return day.weekday() < 5 and day not in self._holidays and day not in self.closures

    def holiday_name(self, day: date) -> str | None:
        """The bank holiday's name on that day in the nation, or None."""
        return self._holidays.get(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (the start date itself is day 0)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day, left = start, count
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count
