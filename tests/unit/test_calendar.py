"""Working days by nation: hand-counted across each nation's bank holidays."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.errors import ConfigurationError
from ledger.rules.calendar import WorkingCalendar, nation_code

# Easter 2026: Good Friday 3 April everywhere; Easter Monday 6 April except Scotland.
# Early May bank holiday Monday 4 May everywhere.


@pytest.mark.parametrize(("nation", "expected"), [
    ("England", date(2026, 5, 11)),
    ("Wales", date(2026, 5, 11)),
    ("Northern Ireland", date(2026, 5, 11)),
    ("Scotland", date(2026, 5, 8)),   # Easter Monday is a working day in Scotland
])
def test_twenty_five_working_days_from_1_april_2026_skip_easter_and_may_day(
    nation: str, expected: date,
) -> None:
    assert WorkingCalendar(nation).add_working_days(date(2026, 4, 1), 25) == expected


def test_st_patricks_day_is_not_a_working_day_only_in_northern_ireland() -> None:
    start = date(2026, 3, 10)  # Tuesday; 17 March 2026 is a Tuesday
    assert WorkingCalendar("England").add_working_days(start, 10) == date(2026, 3, 24)
    assert WorkingCalendar("Northern Ireland").add_working_days(start, 10) == date(2026, 3, 25)


def test_battle_of_the_boyne_observed_monday_is_a_holiday_in_northern_ireland() -> None:
    start = date(2026, 7, 6)
    assert WorkingCalendar("Wales").add_working_days(start, 5) == date(2026, 7, 13)
    assert WorkingCalendar("Northern Ireland").add_working_days(start, 5) == date(2026, 7, 14)


def test_scotland_has_its_summer_bank_holiday_on_the_first_monday_of_august() -> None:
    friday = date(2026, 7, 31)
    assert WorkingCalendar("Scotland").add_working_days(friday, 1) == date(2026, 8, 4)
    assert WorkingCalendar("England").add_working_days(friday, 1) == date(2026, 8, 3)
    assert WorkingCalendar("England").add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 1)
    assert WorkingCalendar("Scotland").add_working_days(date(2026, 8, 28), 1) == date(2026, 8, 31)


def test_st_andrews_day_is_a_holiday_in_scotland() -> None:
    assert not WorkingCalendar("Scotland").is_working_day(date(2026, 11, 30))
    assert WorkingCalendar("England").is_working_day(date(2026, 11, 30))


def test_christmas_and_the_substitute_boxing_day_are_skipped() -> None:
    # 24 Dec Thu = 1; 25 Dec Fri and 28 Dec Mon (Boxing Day substitute) are holidays.
    assert WorkingCalendar("England").add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 30)


def test_the_start_date_is_day_zero_even_on_a_weekend() -> None:
    calendar = WorkingCalendar("England")
    assert calendar.add_working_days(date(2026, 6, 6), 0) == date(2026, 6, 6)
    assert calendar.add_working_days(date(2026, 6, 6), 1) == date(2026, 6, 8)


def test_closure_days_are_not_working_days() -> None:
    calendar = WorkingCalendar("England", closures=[date(2026, 4, 2)])
    assert calendar.add_working_days(date(2026, 4, 1), 25) == date(2026, 5, 12)


def test_nations_are_named_or_coded_and_anything_else_is_refused() -> None:
    assert nation_code("northern-ireland") == "NIR"
    assert nation_code("SCT") == "SCT"
    with pytest.raises(ConfigurationError, match="nation 'Cornwall' is not one of"):
        WorkingCalendar("Cornwall")


@given(st.dates(date(2024, 1, 1), date(2028, 12, 31)), st.integers(0, 80),
       st.sampled_from(["England", "Wales", "Scotland", "Northern Ireland"]))
def test_counting_the_working_days_back_gives_the_count(start: date, count: int,
                                                       nation: str) -> None:
    calendar = WorkingCalendar(nation)
    end = calendar.add_working_days(start, count)
    assert calendar.working_days_between(start, end) == count
    assert count == 0 or calendar.is_working_day(end)


def walked(calendar: WorkingCalendar, start: date, count: int) -> date:
    """The count-th working day after start, found by walking day by day."""
    day, left = start, count
    while left:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    return day


@settings(deadline=None, max_examples=60)  # an index over decades takes a moment to build
@given(nation=st.sampled_from(["England", "Wales", "Scotland", "Northern Ireland"]),
       start=st.dates(date(1995, 1, 1), date(2060, 12, 31)), count=st.integers(0, 800),
       closures=st.lists(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=5),
       other=st.dates(date(1995, 1, 1), date(2060, 12, 31)))
def test_the_working_day_index_agrees_with_walking_the_days(
    nation: str, start: date, count: int, closures: list[date], other: date,
) -> None:
    calendar = WorkingCalendar(nation, closures)
    calendar.add_working_days(other, 3)  # an index built around another date first
    assert calendar.add_working_days(start, count) == walked(calendar, start, count)
    low, high = sorted((start, other))
    expected = sum(calendar.is_working_day(low + timedelta(days=n))
                   for n in range(1, (high - low).days + 1))
    assert calendar.working_days_between(low, high) == expected
    assert calendar.working_days_between(high, low) == 0
