"""The two CSV layouts (MIS export, plain event rows): their columns and header matching."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.imports.problems import ImportRefused, RowProblem


@dataclass(frozen=True)
class Layout:
    """A CSV layout: its name, its columns in template order, and which must be present."""

    name: str
    columns: tuple[str, ...]
    required: frozenset[str]

    def describe(self) -> str:
        return f"the {self.name} layout"


MIS_EXPORT = Layout(
    name="mis-export",
    columns=(
        "centre", "learner", "title", "given_name", "family_name", "date_of_birth", "gender",
        "postcode", "email", "uln", "enrolment", "awarding_body", "qualification",
        "qualification_title", "units", "programme_start", "planned_end", "apprenticeship",
        "registration_submitted", "registration_confirmed", "ao_reference",
        "assessment_started", "withdrawal_left", "withdrawal_reason", "withdrawal_notified",
        "iqa_signed_off", "claim_submitted", "certificate_received", "certificate_issued",
        "certificate_collected", "note", "learning_completed", "achieved",
    ),
    required=frozenset({
        "centre", "learner", "given_name", "family_name", "date_of_birth", "gender",
        "enrolment", "awarding_body", "qualification", "qualification_title",
        "programme_start", "planned_end",
    }),
)

EVENTS = Layout(
    name="events",
    columns=(
        "event", "centre", "learner", "enrolment", "occurred_on", "uln", "code", "flags",
        "master_uln", "document", "field", "value", "ao_reference", "reason", "note",
    ),
    required=frozenset({"event", "centre", "learner", "occurred_on"}),
)

LAYOUTS = {layout.name: layout for layout in (MIS_EXPORT, EVENTS)}

ALIASES = {
    "learner_ref": "learner", "learner_reference": "learner", "learner_id": "learner",
    "enrolment_ref": "enrolment", "enrolment_reference": "enrolment",
    "enrollment": "enrolment", "enrollment_ref": "enrolment",
    "centre_number": "centre", "center": "centre", "dob": "date_of_birth",
    "first_name": "given_name", "forename": "given_name", "surname": "family_name",
    "last_name": "family_name", "sex": "gender", "post_code": "postcode",
    "ao": "awarding_body", "qualification_number": "qualification", "qan": "qualification",
    "ao_ref": "ao_reference", "registration_number": "ao_reference",
    "start_date": "programme_start", "planned_end_date": "planned_end",
    "date": "occurred_on", "on": "occurred_on",
}


def normalise(name: str) -> str:
    """A header cell as a column name: lower case, words joined by underscores, aliases resolved."""
    key = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    return ALIASES.get(key, key)


@dataclass(frozen=True)
class Header:
    """The header of a file: its layout, where each known column is, and what was ignored."""

    layout: Layout
    positions: dict[str, int]
    ignored: tuple[str, ...]
    width: int


def read_header(cells: list[str], line: int, layout_name: str = "auto") -> Header:
    """Match a header row to a layout; refuse missing required columns, naming them."""
    names = [normalise(cell) for cell in cells]
    if layout_name == "auto":
        layout = EVENTS if "event" in names else MIS_EXPORT
    else:
        layout = LAYOUTS[layout_name]
    positions: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[RowProblem] = []
    for index, (cell, name) in enumerate(zip(cells, names, strict=True)):
        if name in layout.columns:
            if name in positions:
                problems.append(RowProblem(line, cell.strip(), "column appears twice"))
            positions[name] = index
        elif cell.strip():
            ignored.append(cell.strip())
    missing = [column for column in layout.columns
               if column in layout.required and column not in positions]
    if missing:
        problems.append(RowProblem(
            line, "", f"missing required column(s) for {layout.describe()}: {', '.join(missing)}"
        ))
    if problems:
        raise ImportRefused("the header row is not usable; nothing was written", problems)
    return Header(layout, positions, tuple(ignored), len(cells))
