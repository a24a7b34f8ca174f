"""Value objects: ULN check digits, names, dates, postcodes and codes."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.errors import InvalidValue
from aggregates.values import (
    check_age_at_start,
    check_birth_date,
    check_name,
    check_programme_dates,
    is_valid_uln,
    normalise_code,
    parse_date,
    parse_gender,
    parse_postcode,
    parse_timestamp,
    parse_uln,
    uln_check_digit,
)


@pytest.mark.parametrize("uln", ["1000000043", "9276308686", "1000102504", "1111111110",
                                 "1234567899"])
def test_the_domain_brief_valid_ulns_are_accepted(uln):
    assert is_valid_uln(uln)
    assert parse_uln(uln) == uln


@pytest.mark.parametrize("uln", ["1000000063", "1000000040", "1234567890", "9876543210",
                                 "0000000042", "100000004", "10000000431", "abcdefghij",
                                 "１０００００００４３"])
def test_the_domain_brief_invalid_ulns_are_refused(uln):
    assert not is_valid_uln(uln)
    with pytest.raises(InvalidValue, match="not a valid ULN"):
        parse_uln(uln)


def test_9999999999_means_no_uln_and_is_never_a_uln():
    assert not is_valid_uln("9999999999")
    assert parse_uln("9999999999") is None
    assert parse_uln("  ") is None


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: s[0] != "0"))
def test_a_uln_with_its_computed_check_digit_is_valid_and_any_other_digit_is_not(first_nine):
    digit = uln_check_digit(first_nine)
    if digit is None:
        assert not any(is_valid_uln(first_nine + str(d)) for d in range(10))
    else:
        assert is_valid_uln(first_nine + str(digit))
        assert not any(is_valid_uln(first_nine + str(d)) for d in range(10) if d != digit)


@pytest.mark.parametrize(("text", "expected"), [
    ("sw1a1aa", "SW1A 1AA"), ("SW1A 1AA", "SW1A 1AA"), (" m1  1ae ", "M1 1AE"),
    ("cf10 1aa", "CF10 1AA"), ("ZZ99 9ZZ", "ZZ99 9ZZ"), ("", None),
])
def test_postcodes_are_normalised_to_upper_case_with_one_space(text, expected):
    assert parse_postcode(text) == expected


@pytest.mark.parametrize("text", ["SW1A 1CA", "12345", "SW1A", "Q1 1AA1"])
def test_postcodes_outside_the_esfa_pattern_are_refused(text):
    with pytest.raises(InvalidValue, match="postcode"):
        parse_postcode(text)


@pytest.mark.parametrize("name", ["Siân", "Zoë", "O'Brien", "Smith-Jones", "Mary Ann"])
def test_real_names_with_accents_apostrophes_and_hyphens_pass_without_warnings(name):
    assert check_name(name, "given_name") == (name, [])


def test_a_name_in_capitals_is_kept_with_a_warning_not_refused():
    value, warnings = check_name("SMITH", "family_name")
    assert value == "SMITH"
    assert [w.code for w in warnings] == ["name-capitals"]


@pytest.mark.parametrize("name", ["J", "J.", "Mary J."])
def test_initials_are_kept_with_a_warning(name):
    assert [w.code for w in check_name(name, "given_name")[1]] == ["name-initials"]


@pytest.mark.parametrize("name", ["", "R2D2", "a" * 36, "Ann_Lee"])
def test_non_names_are_refused(name):
    with pytest.raises(InvalidValue, match="given_name"):
        check_name(name, "given_name")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-09-01", date(2026, 9, 1)), ("01/09/2026", date(2026, 9, 1)),
    ("1/9/2026", date(2026, 9, 1)),
])
def test_dates_are_iso_or_uk_spreadsheet_style(text, expected):
    assert parse_date(text, "start") == expected


@pytest.mark.parametrize("text", ["2026-02-30", "31/04/2026", "2026/09/01", "tomorrow", ""])
def test_impossible_or_malformed_dates_are_refused_naming_the_field(text):
    with pytest.raises(InvalidValue, match=r"^start: "):
        parse_date(text, "start")


def test_a_birth_date_in_the_future_is_refused_and_a_placeholder_is_warned():
    with pytest.raises(InvalidValue, match="future"):
        check_birth_date(date(2030, 1, 1), today=date(2026, 11, 23))
    warnings = check_birth_date(date(1901, 1, 1), today=date(2026, 11, 23))
    assert [w.code for w in warnings] == ["dob-placeholder"]


@pytest.mark.parametrize(("born", "warned"), [
    (date(2012, 9, 1), False), (date(2012, 9, 2), True), (date(1916, 9, 2), False),
    (date(1915, 9, 1), True),
])
def test_age_on_the_programme_start_must_be_14_to_110(born, warned):
    """Seed 003: ULNs are for learners aged 14 and over (the range is ledger.toml's)."""
    assert bool(check_age_at_start(born, date(2026, 9, 1))) is warned


@pytest.mark.parametrize(("text", "code"), [("1", 1), ("male", 1), ("F", 2), ("0", 0),
                                            ("9", 9)])
def test_gender_codes_follow_the_lrs(text, code):
    assert parse_gender(text) == code


def test_an_unknown_gender_code_is_refused():
    with pytest.raises(InvalidValue, match="gender"):
        parse_gender("3")


def test_an_as_at_date_means_the_end_of_that_day_in_utc():
    moment = parse_timestamp("2026-11-01")
    assert (moment.hour, moment.minute, moment.tzinfo is not None) == (23, 59, True)
    assert parse_timestamp("2026-11-01T10:00:00+01:00").utcoffset().seconds == 3600


@pytest.mark.parametrize("text", ["No Contact", "no_contact", " no-contact ", "NO  CONTACT"])
def test_codes_typed_by_people_normalise_to_one_code(text):
    assert normalise_code(text) == "no-contact"


@pytest.mark.parametrize(("start", "end", "field"), [
    (date(9999, 12, 1), date(9999, 12, 31), "start"), (date(1980, 1, 1), date(1981, 1, 1), "start"),
    (date(2026, 9, 1), date(2040, 1, 1), "planned_end"),
])
def test_implausible_programme_dates_are_refused(start, end, field):
    with pytest.raises(InvalidValue, match=f"^{field}: "):
        check_programme_dates(start, end, today=date(2026, 11, 23))
