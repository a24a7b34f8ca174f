"""Parsing and validating one CSV row into typed facts; every bad cell becomes a RowProblem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache, partial
from typing import Any, TypeVar

from aggregates.details import parse_detail
from aggregates.errors import InvalidValue, shown
from aggregates.learner import (
    DETAIL_FIELDS,
    ID_DOCUMENTS,
    LRS_FLAGS,
    LRS_OUTCOMES,
    WITHDRAWAL_REASONS,
)
from aggregates.values import (
    AO_REFERENCE_MAX_LENGTH,
    check_programme_dates,
    normalise_code,
    parse_awarding_body,
    parse_centre,
    parse_date,
    parse_qualification,
    parse_reference,
    parse_text,
    parse_uln,
)
from ledger.imports.layouts import EVENTS, Layout
from ledger.imports.problems import RowProblem
from ledger.imports.source import Record

T = TypeVar("T")

TRUE_WORDS = frozenset({"y", "yes", "true", "1", "x"})
FALSE_WORDS = frozenset({"", "n", "no", "false", "0"})
EVENT_KINDS = {
    "uln": "uln", "ulnrecorded": "uln",
    "lrs-result": "lrs-result", "lrsresultrecorded": "lrs-result", "uln-result": "lrs-result",
    "id-verified": "id-verified", "idverified": "id-verified", "id-check": "id-verified",
    "registration-submitted": "registration-submitted",
    "registrationsubmitted": "registration-submitted",
    "registration-confirmed": "registration-confirmed",
    "registrationconfirmed": "registration-confirmed",
    "registration-rejected": "registration-rejected",
    "registrationrejected": "registration-rejected",
    "amended": "amended", "detailsamended": "amended", "amend": "amended",
    "assessment-started": "assessment-started", "assessmentstarted": "assessment-started",
    "withdrawn": "withdrawn", "withdraw": "withdrawn",
    "withdrawal-notified": "withdrawal-notified", "withdrawalnotified": "withdrawal-notified",
    "iqa-signed-off": "iqa-signed-off", "iqasignedoff": "iqa-signed-off",
    "claim-submitted": "claim-submitted", "claimsubmitted": "claim-submitted",
    "certificate-received": "certificate-received",
    "certificatereceived": "certificate-received",
    "certificate-issued": "certificate-issued", "certificateissued": "certificate-issued",
    "certificate-collected": "certificate-collected",
    "certificatecollected": "certificate-collected",
    "registration-checked": "registration-checked",
    "registrationchecked": "registration-checked",
    "units-completed": "units-completed", "unitscompleted": "units-completed",
    "eqa-sampling-required": "eqa-sampling-required",
    "eqasamplingrequired": "eqa-sampling-required",
    "eqa-sampled": "eqa-sampled", "eqasampled": "eqa-sampled",
    "learning-completed": "learning-completed", "learningcompleted": "learning-completed",
    "achieved": "achieved",
}
LEARNER_LEVEL_EVENTS = frozenset({"uln", "lrs-result", "id-verified", "amended"})
EVENT_NEEDS = {
    "uln": ("uln",), "lrs-result": ("code",), "id-verified": ("document",),
    "registration-confirmed": ("ao_reference",), "registration-rejected": ("reason",),
    "amended": ("field", "reason"), "withdrawn": ("reason",),
}


@dataclass(frozen=True)
class EnrolmentFacts:
    """What an MIS row says about one enrolment; None means 'not yet'."""

    ref: str
    awarding_body: str
    qualification: str
    title: str
    units: tuple[str, ...]
    start: date
    planned_end: date
    apprenticeship: bool
    submitted: date | None = None
    confirmed: date | None = None
    ao_reference: str | None = None
    assessment_started: date | None = None
    left: date | None = None
    withdrawal_reason: str | None = None
    notified: date | None = None
    iqa_signed_off: date | None = None
    claimed: date | None = None
    received: date | None = None
    issued: date | None = None
    collected: date | None = None
    completed: date | None = None
    achieved: date | None = None


@dataclass(frozen=True)
class LearnerRow:
    """A parsed MIS-export row: a learner's details and one enrolment."""

    line: int
    centre: str
    reference: str
    details: dict[str, Any]
    warnings: list[dict[str, str]]
    uln: str | None
    enrolment: EnrolmentFacts
    note: str | None


@dataclass(frozen=True)
class EventRow:
    """A parsed event row: one fact about a learner (and perhaps an enrolment)."""

    line: int
    kind: str
    centre: str
    reference: str
    enrolment: str | None
    occurred_on: date
    values: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


ParsedRow = LearnerRow | EventRow


class Cells:
    """Reads cells of one record, collecting a problem for every bad or missing value."""

    def __init__(self, record: Record, today: date) -> None:
        self.record = record
        self.cells = record.cells  # read directly: a row's cells are read some 40 times
        self.today = today
        self.problems: list[RowProblem] = []

    def problem(self, column: str, reason: str) -> None:
        self.problems.append(RowProblem(self.record.line, column, reason))

    def take(self, column: str, parse: Callable[[str], T], required: bool = False) -> T | None:
        text = self.cells.get(column, "")
        if not text:
            if required:
                self.problem(column, "is required")
            return None
        try:
            return parse(text)
        except InvalidValue as error:
            self.problem(column, error.message)
            return None

    def day(self, column: str, required: bool = False, past: bool = True) -> date | None:
        """A date cell, not after today if `past`."""
        day = self.take(column, _date_in(column), required)
        if past and day is not None and day > self.today:
            self.problem(column, f"{day.isoformat()} is in the future")
            return None
        return day

    def after(self, later: str, earlier: str, values: dict[str, date | None]) -> None:
        """A problem on `later` when it comes before `earlier` (both given)."""
        late, early = values.get(later), values.get(earlier)
        if late is not None and early is not None and late < early:
            self.problem(later, f"{late.isoformat()} is before {earlier} {early.isoformat()}")

    def not_after(self, earlier: str, later: str, values: dict[str, date | None]) -> None:
        """A problem on `earlier` when it comes after `later` (both given)."""
        early, late = values.get(earlier), values.get(later)
        if early is not None and late is not None and early > late:
            self.problem(earlier, f"{early.isoformat()} is after {later} {late.isoformat()}")

    def needs(self, column: str, other: str) -> None:
        if self.cells.get(column) and not self.cells.get(other):
            self.problem(other, f"is required when {column} is given")


@cache
def _date_in(column: str) -> Callable[[str], date]:
    """The parser of a date column: made once a column, not once a cell (a row has a dozen)."""
    return lambda text: parse_date(text, column)


def parse_row(record: Record, layout: Layout, today: date) -> tuple[ParsedRow | None,
                                                                    list[RowProblem]]:
    """The typed row, or None with every problem found in it."""
    cells = Cells(record, today)
    if record.extra:
        cells.problem("", f"{len(record.extra)} more cell(s) than the header has columns")
    cells.problems.extend(record.problems)
    parsed = _event_row(cells) if layout is EVENTS else _learner_row(cells)
    if cells.problems:
        return None, cells.problems
    return parsed, []


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidValue("apprenticeship", f"{shown(text)} is not yes or no")


def _reason_code(text: str) -> str:
    code = normalise_code(text)
    if code not in WITHDRAWAL_REASONS:
        raise InvalidValue("reason", f"{shown(text)} is not one of {', '.join(WITHDRAWAL_REASONS)}")
    return code


def _ao_reference(text: str) -> str:
    return parse_text(text, "ao_reference", AO_REFERENCE_MAX_LENGTH)


def _units(text: str) -> tuple[str, ...]:
    return tuple(parse_text(unit, "units", 40) for unit in re.split(r"[;|]", text)
                 if unit.strip())


# each learner detail's parser, made once (not a closure for every cell of every row)
DETAIL_PARSERS: dict[str, Callable[[str], tuple[Any, list[dict[str, str]]]]] = {
    name: partial(parse_detail, name) for name in DETAIL_FIELDS
}


def _learner_row(cells: Cells) -> LearnerRow | None:
    take, day = cells.take, cells.day
    centre = take("centre", parse_centre, True)
    reference = take("learner", lambda t: parse_reference(t, "learner"), True)
    details: dict[str, Any] = {}
    warnings: list[dict[str, str]] = []
    for name in DETAIL_FIELDS:
        required = name in ("given_name", "family_name", "date_of_birth", "gender")
        parsed = take(name, DETAIL_PARSERS[name], required)
        if parsed is not None:
            details[name], found = parsed
            warnings.extend(found)
        else:
            details[name] = None
    uln = take("uln", parse_uln)
    dates = {
        "programme_start": day("programme_start", True, past=False),
        "planned_end": day("planned_end", True, past=False),
    }
    for column in ("registration_submitted", "registration_confirmed", "assessment_started",
                   "withdrawal_left", "withdrawal_notified", "iqa_signed_off",
                   "claim_submitted", "certificate_received", "certificate_issued",
                   "certificate_collected", "learning_completed", "achieved"):
        dates[column] = day(column)
    for later, earlier in (
        ("planned_end", "programme_start"), ("registration_confirmed", "registration_submitted"),
        ("assessment_started", "programme_start"), ("withdrawal_left", "programme_start"),
        ("withdrawal_notified", "withdrawal_left"), ("iqa_signed_off", "programme_start"),
        ("claim_submitted", "programme_start"), ("certificate_received", "claim_submitted"),
        ("certificate_issued", "certificate_received"),
        ("certificate_collected", "certificate_issued"),
        ("learning_completed", "programme_start"), ("achieved", "programme_start"),
    ):
        cells.after(later, earlier, dates)
    start_on, end_on = dates["programme_start"], dates["planned_end"]
    if start_on is not None and end_on is not None:
        try:
            check_programme_dates(start_on, end_on, cells.today)
        except InvalidValue as error:
            cells.problem(error.field.replace("start", "programme_start"), error.message)
    cells.not_after("assessment_started", "withdrawal_left", dates)
    cells.not_after("iqa_signed_off", "withdrawal_left", dates)
    for column, other in (
        ("registration_confirmed", "registration_submitted"),
        ("registration_confirmed", "ao_reference"), ("ao_reference", "registration_confirmed"),
        ("withdrawal_left", "withdrawal_reason"), ("withdrawal_reason", "withdrawal_left"),
        ("withdrawal_notified", "withdrawal_left"), ("certificate_received", "claim_submitted"),
        ("certificate_issued", "certificate_received"),
        ("certificate_collected", "certificate_issued"),
    ):
        cells.needs(column, other)
    enrolment = take("enrolment", lambda t: parse_reference(t, "enrolment"), True)
    body = take("awarding_body", parse_awarding_body, True)
    qualification = take("qualification", parse_qualification, True)
    title = take("qualification_title", lambda t: parse_text(t, "qualification_title"), True)
    units = take("units", _units) or ()
    apprenticeship = take("apprenticeship", _flag) or False
    ao_reference = take("ao_reference", _ao_reference)
    reason = take("withdrawal_reason", _reason_code)
    note = take("note", lambda t: parse_text(t, "note", 500))
    if cells.problems:
        return None
    assert centre and reference and enrolment and body and qualification and title
    facts = EnrolmentFacts(
        ref=enrolment, awarding_body=body, qualification=qualification, title=title,
        units=units, start=dates["programme_start"],  # type: ignore[arg-type]
        planned_end=dates["planned_end"],  # type: ignore[arg-type]
        apprenticeship=apprenticeship, submitted=dates["registration_submitted"],
        confirmed=dates["registration_confirmed"], ao_reference=ao_reference,
        assessment_started=dates["assessment_started"], left=dates["withdrawal_left"],
        withdrawal_reason=reason, notified=dates["withdrawal_notified"],
        iqa_signed_off=dates["iqa_signed_off"], claimed=dates["claim_submitted"],
        received=dates["certificate_received"], issued=dates["certificate_issued"],
        collected=dates["certificate_collected"], completed=dates["learning_completed"],
        achieved=dates["achieved"],
    )
    return LearnerRow(cells.record.line, centre, reference, details, warnings, uln, facts, note)


def _kind(text: str) -> str:
    key = re.sub(r"[\s_]+", "-", text.strip().lower())
    kind = EVENT_KINDS.get(key) or EVENT_KINDS.get(key.replace("-", ""))
    if kind is None:
        names = sorted(set(EVENT_KINDS.values()))
        raise InvalidValue("event", f"{shown(text)} is not an event ({', '.join(names)})")
    return kind


def _code(text: str) -> str:
    code = text.strip().upper()
    if code not in LRS_OUTCOMES:
        raise InvalidValue("code", f"{shown(text)} is not an LRS code (WSVRC001 to WSVRC006)")
    return code


def _flags(text: str) -> list[str]:
    flags = [flag.upper() for flag in re.split(r"[;,\s]+", text) if flag]
    unknown = [flag for flag in flags if flag not in LRS_FLAGS]
    if unknown:
        raise InvalidValue("flags", f"{shown(unknown[0])} is not a flag (VRF1 to VRF8)")
    return flags


def _document(text: str) -> str:
    document = re.sub(r"[\s_]+", "-", text.strip().lower())
    if document not in ID_DOCUMENTS:
        raise InvalidValue("document", f"{shown(text)} is not one of {', '.join(ID_DOCUMENTS)}")
    return document


def _field(text: str) -> str:
    name = re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")
    if name not in DETAIL_FIELDS:
        raise InvalidValue("field", f"{shown(text)} is not one of {', '.join(DETAIL_FIELDS)}")
    return name


def _event_row(cells: Cells) -> EventRow | None:
    take = cells.take
    kind = take("event", _kind, True)
    centre = take("centre", parse_centre, True)
    reference = take("learner", lambda t: parse_reference(t, "learner"), True)
    enrolment = take("enrolment", lambda t: parse_reference(t, "enrolment"))
    occurred_on = cells.day("occurred_on", True)
    note = take("note", lambda t: parse_text(t, "note", 500))
    values: dict[str, Any] = {}
    if kind is not None:
        for column in EVENT_NEEDS.get(kind, ()):
            if not cells.record.get(column):
                cells.problem(column, f"is required for a {kind} event")
        if kind not in LEARNER_LEVEL_EVENTS and enrolment is None and cells.record.get(
            "enrolment"
        ) == "":
            cells.problem("enrolment", f"is required for a {kind} event")
        values = _event_values(cells, kind)
    if cells.problems:
        return None
    assert kind and centre and reference and occurred_on
    return EventRow(cells.record.line, kind, centre, reference, enrolment, occurred_on, values,
                    note)


def _event_values(cells: Cells, kind: str) -> dict[str, Any]:
    take = cells.take
    if kind == "uln":
        return {"uln": take("uln", parse_uln)}
    if kind == "lrs-result":
        return {"code": take("code", _code), "flags": take("flags", _flags) or [],
                "master_uln": take("master_uln", lambda t: parse_uln(t, "master_uln"))}
    if kind == "id-verified":
        return {"document": take("document", _document)}
    if kind == "registration-confirmed":
        return {"ao_reference": take("ao_reference", _ao_reference)}
    if kind == "registration-rejected":
        return {"reason": take("reason", lambda t: parse_text(t, "reason"))}
    if kind == "withdrawn":
        return {"reason": take("reason", _reason_code)}
    if kind == "amended":
        name = take("field", _field)
        value, warnings = None, []
        if name is not None:
            try:
                value, warnings = parse_detail(name, cells.record.get("value"))
            except InvalidValue as error:
                cells.problem("value", error.message)
        return {"field": name, "value": value, "warnings": warnings,
                "reason": take("reason", lambda t: parse_text(t, "reason"))}
    return {}
