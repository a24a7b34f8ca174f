"""Working days by UK nation: weekends, the nation's bank holidays and centre closure days."""

from __future__ import annotations

from bisect import bisect_right
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
INDEX_MARGIN_YEARS = 2  # years indexed either side of a date asked for outside the index


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
        self._working: list[int] = []  # the index: each working day's ordinal, in order
        self._years = (1, 0)  # the first and last year the index covers (none yet)

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.nation!r}, closures={sorted(self.closures)!r})"

    def is_working_day(self, day: date) -> bool:
        """True on a weekday that is neither a bank holiday nor a closure day."""
        return day.weekday() < 5 and day not in self._holidays and day not in self.closures

    def holiday_name(self, day: date) -> str | None:
        """The bank holiday's name on that day in the nation, or None."""
        return self._holidays.get(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (the start date itself is day 0).

        A look-up in the working-day index (each working day's ordinal, in order), not a walk
        over the days: reports ask it for every enrolment they judge.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return start
        self._cover(start)
        after = bisect_right(self._working, start.toordinal())  # working days up to start
        while after + count > len(self._working):  # past the end of the index: widen it
            self._cover(date.fromordinal(self._working[-1]) + timedelta(days=366))
        return date.fromordinal(self._working[after + count - 1])

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        if end <= start:
            return 0
        self._cover(start)
        self._cover(end)
        return (bisect_right(self._working, end.toordinal())
                - bisect_right(self._working, start.toordinal()))

    def _cover(self, day: date) -> None:
        """Make the index cover `day`'s year (and a margin either side, to build it rarely)."""
        first, last = self._years
        if first <= day.year <= last:
            return
        if first > last:
            first, last = day.year, day.year
        first = max(1, min(first, day.year - INDEX_MARGIN_YEARS))
        last = min(9999, max(last, day.year + INDEX_MARGIN_YEARS))
        day_, end = date(first, 1, 1), date(last, 12, 31)
        working: list[int] = []
        while True:
            if self.is_working_day(day_):
                working.append(day_.toordinal())
            if day_ == end:
                break
            day_ += timedelta(days=1)
        self._working, self._years = working, (first, last)
