"""Value objects: parsing and validation of ULNs, names, dates, postcodes and references."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from operator import mul

from aggregates.errors import InvalidValue, shown
from aggregates.reference import REFERENCE

ULN_NOT_KNOWN = "9999999999"
ULN_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
NAME_MAX_LENGTH = REFERENCE.name_max_length  # the rules' values: ledger/policies/ledger.toml
POSTCODE_PATTERN = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UWXYZ]{2}$")
POSTCODE_UNKNOWN = "ZZ99 9ZZ"
PLACEHOLDER_BIRTH_DATES = REFERENCE.placeholder_birth_dates
PLAUSIBLE_AGES = range(REFERENCE.youngest_age, REFERENCE.oldest_age + 1)
EARLIEST_BIRTH = date(1900, 1, 1)
ACTOR_MAX_LENGTH = 100
AO_REFERENCE_MAX_LENGTH = 40
LINE_BREAKS = re.compile(r"[\n\r\v\f\x85\u2028\u2029]")
EARLIEST_START = date(1990, 1, 1)
START_HORIZON_DAYS = 2 * 366
LONGEST_PROGRAMME_DAYS = 10 * 366
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '’.\-][^\W\d_]*)*$")
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,39}$")
CENTRE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,19}$")
AWARDING_BODY_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
QUALIFICATION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/._\-]{0,29}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UK_DATE_PATTERN = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")
ISO_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")

GENDER_CODES = {
    "0": 0, "not known": 0, "unknown": 0, "u": 0,
    "1": 1, "male": 1, "m": 1,
    "2": 2, "female": 2, "f": 2,
    "9": 9, "not specified": 9, "x": 9,
}


@dataclass(frozen=True)
class QualityWarning:
    """A data-quality warning: recorded on the event and reported, never a refusal."""

    code: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}


def uln_check_digit(first_nine: str) -> int | None:
    """The check digit for the first nine ULN digits, or None when none exists (r = 0)."""
    if len(first_nine) != len(ULN_WEIGHTS):
        raise ValueError(f"{shown(first_nine)} is not the nine first digits of a ULN")
    # map in C, not a generator: an import checks two ULNs a learner
    remainder = sum(map(mul, map(int, first_nine), ULN_WEIGHTS)) % 11
    return None if remainder == 0 else 10 - remainder


def is_valid_uln(text: str) -> bool:
    """True for a 10-digit ULN whose first digit is not 0 and whose check digit matches."""
    if len(text) != 10 or not text.isascii() or not text.isdigit() or text[0] == "0":
        return False
    return uln_check_digit(text[:9]) == int(text[9])


def parse_uln(text: str | None, field: str = "uln") -> str | None:
    """A valid ULN, or None for an empty value or 9999999999 (the ILR's 'ULN not known')."""
    value = (text or "").strip()
    if value in ("", ULN_NOT_KNOWN):
        return None
    if not is_valid_uln(value):
        raise InvalidValue(field,
                           f"{shown(value)} is not a valid ULN (10 digits with a check digit)")
    return value


@lru_cache(maxsize=4096)  # a file's dates repeat: programme starts, submissions, claims
def parse_date(text: str, field: str) -> date:
    """An ISO (2026-09-01) or UK spreadsheet (01/09/2026) date."""
    value = text.strip()
    try:
        if UK_DATE_PATTERN.fullmatch(value):
            day, month, year = (int(part) for part in value.split("/"))
            return date(year, month, day)
        if ISO_DATE_PATTERN.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidValue(field, f"{shown(value)} is not a real date ({error})") from None
    raise InvalidValue(field, f"{shown(value)} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")


def check_name(text: str, field: str) -> tuple[str, list[QualityWarning]]:
    """A legal name, stripped and in NFC; refused if empty, not a name or on several lines;
    warned if capitals or initials."""
    if LINE_BREAKS.search(text):
        raise InvalidValue(field, f"{shown(text)} holds a line break; a legal name is one line")
    value = " ".join(text.split())
    if not value.isascii():  # accents typed decomposed (e + U+0301) are the same name
        value = unicodedata.normalize("NFC", value)
    if not value:
        raise InvalidValue(field, "must not be empty")
    if len(value) > NAME_MAX_LENGTH:
        raise InvalidValue(field, f"{shown(value)} is longer than {NAME_MAX_LENGTH} characters")
    if not NAME_PATTERN.match(value):
        raise InvalidValue(field, f"{shown(value)} is not a name (letters, spaces, ' and - only)")
    warnings = []
    letters = [c for c in value if c.isalpha()]
    if len(letters) > 1 and value.isupper():
        warnings.append(QualityWarning("name-capitals", field, f"{shown(value)} is all capitals"))
    if any(len(part.strip(".")) == 1 or part.endswith(".") for part in value.split(" ")):
        warnings.append(QualityWarning("name-initials", field, f"{shown(value)} uses initials"))
    return value, warnings


def check_birth_date(born: date, today: date) -> list[QualityWarning]:
    """Refuse a birth date in the future or before 1900; warn for placeholders such as
    1901-01-01."""
    if born > today:
        raise InvalidValue("date_of_birth", f"{born.isoformat()} is in the future")
    if born < EARLIEST_BIRTH:
        raise InvalidValue("date_of_birth", f"{born.isoformat()} is not a plausible date of "
                                            f"birth (before {EARLIEST_BIRTH.isoformat()})")
    if born in PLACEHOLDER_BIRTH_DATES:
        message = f"{born.isoformat()} is a placeholder, not a real date of birth"
        return [QualityWarning("dob-placeholder", "date_of_birth", message)]
    return []


def age_on(born: date, on: date) -> int:
    """Whole years of age on a date."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def check_age_at_start(born: date, start: date) -> list[QualityWarning]:
    """Warn when the learner's age on the programme start date is implausible (by default
    14 to 110: the reference data's range)."""
    age = age_on(born, start)
    if age in PLAUSIBLE_AGES:
        return []
    message = f"learner would be {age} on the programme start date {start.isoformat()}"
    return [QualityWarning("age-implausible", "date_of_birth", message)]


def parse_postcode(text: str | None) -> str | None:
    """A UK postcode normalised to upper case with one space, or None when empty."""
    compact = re.sub(r"\s+", "", text or "").upper()
    if not compact:
        return None
    value = f"{compact[:-3]} {compact[-3:]}"
    if not POSTCODE_PATTERN.match(value):
        raise InvalidValue("postcode", f"{shown(text)} is not a UK postcode")
    return value


def parse_gender(text: str) -> int:
    """An LRS gender code: 0 not known, 1 male, 2 female, 9 not specified."""
    try:
        return GENDER_CODES[text.strip().lower()]
    except KeyError:
        raise InvalidValue("gender", f"{shown(text)} is not a gender code (0, 1, 2, 9)") from None


def parse_email(text: str | None) -> str | None:
    """An email address, or None when empty."""
    value = (text or "").strip()
    if not value:
        return None
    if not EMAIL_PATTERN.match(value):
        raise InvalidValue("email", f"{shown(value)} is not an email address")
    return value


def _matching(pattern: re.Pattern[str], text: str, field: str, what: str) -> str:
    value = text.strip()
    if not pattern.match(value):
        raise InvalidValue(field, f"{shown(value)} is not {what}")
    return value


def parse_reference(text: str, field: str = "reference") -> str:
    """A learner or enrolment reference: letters, digits and . _ / - (up to 40)."""
    return _matching(REFERENCE_PATTERN, text, field,
                     "a reference (up to 40 letters, digits, . _ / -)")


def parse_centre(text: str) -> str:
    """A centre number: letters, digits and - (up to 20)."""
    return _matching(CENTRE_PATTERN, text, "centre", "a centre number")


def parse_awarding_body(text: str) -> str:
    """An awarding-body code such as IMI or AIM (upper case)."""
    return _matching(AWARDING_BODY_PATTERN, text.strip().upper(), "awarding_body",
                     "an awarding-body code such as IMI")


def parse_qualification(text: str) -> str:
    """A qualification number such as 603/1234/5."""
    return _matching(QUALIFICATION_PATTERN, text, "qualification", "a qualification number")


def parse_text(text: str, field: str, max_length: int = 200) -> str:
    """A required free-text value, stripped."""
    value = " ".join(text.split())
    if not value:
        raise InvalidValue(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidValue(field, f"is longer than {max_length} characters")
    return value


def parse_actor(text: str) -> str:
    """Who records: one line of printable text, up to 100 characters."""
    value = text.strip()
    if not value:
        raise InvalidValue("actor", "must not be empty")
    if not value.isprintable():
        raise InvalidValue("actor", f"{shown(value)} holds control characters or line breaks")
    if len(value) > ACTOR_MAX_LENGTH:
        raise InvalidValue("actor", f"{shown(value)} is longer than {ACTOR_MAX_LENGTH} "
                                    "characters")
    return value


def parse_timestamp(text: str, field: str = "as_at") -> datetime:
    """A recorded-time moment: ISO date or date-time; without a zone it is UTC."""
    value = text.strip()
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
        value = parse_date(value, field).isoformat()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(field, f"{shown(value)} is not a date or ISO date-time") from None
    if len(value) == 10:
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_programme_dates(start: date, planned_end: date, today: date) -> None:
    """Refuse a programme start or planned end no real programme could have (typos)."""
    latest = today + timedelta(days=START_HORIZON_DAYS)
    if not EARLIEST_START <= start <= latest:
        raise InvalidValue("start", f"{start.isoformat()} is not a plausible programme start "
                                    f"({EARLIEST_START.isoformat()} to {latest.isoformat()})")
    if (planned_end - start).days > LONGEST_PROGRAMME_DAYS:
        raise InvalidValue("planned_end", f"{planned_end.isoformat()} is more than ten years "
                                          "after the programme start")


def normalise_code(text: str) -> str:
    """A code as typed by people: 'No Contact', 'no_contact' and 'no-contact' are one code."""
    return "-".join(text.strip().lower().replace("_", " ").split())
