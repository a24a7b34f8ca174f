"""The learning-aims file (`--aims`): LARS learning aim reference to awarding body,
qualification number and title, which the ILR itself does not carry."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from aggregates.errors import InvalidValue
from aggregates.values import parse_awarding_body, parse_qualification, parse_text
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.rules.names import with_suggestion

# header names as the LARS download spells them, and as people write them
COLUMNS = {
    "learn_aim_ref": ("learnaimref", "learn_aim_ref", "learning_aim_reference",
                      "learning_aim_ref", "aim_reference", "aim"),
    "awarding_body": ("awardorgcode", "award_org_code", "awarding_body",
                      "awarding_organisation", "awarding_organisation_code", "ao"),
    "qualification": ("qualification_number", "qualification", "qan", "qualificationnumber"),
    "title": ("learnaimreftitle", "learn_aim_ref_title", "learning_aim_title", "title",
              "qualification_title"),
}
REGULATED_AIM = re.compile(r"^\d{8}$")  # LARS uses the qualification number without slashes


@dataclass(frozen=True)
class Aim:
    """What the ledger needs of one learning aim to enrol a learner on it."""

    awarding_body: str
    qualification: str
    title: str


def qualification_from_aim(reference: str) -> str | None:
    """The qualification number a regulated aim's reference spells (60312345 -> 603/1234/5)."""
    if not REGULATED_AIM.match(reference):
        return None
    return f"{reference[:3]}/{reference[3:7]}/{reference[7]}"


def _key(cell: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", cell.strip().lower().removeprefix("\ufeff")).strip("_")


def load_aims(path: Path, known_bodies: frozenset[str] = frozenset()) -> dict[str, Aim | None]:
    """Every aim in the file by its reference (upper case), None for an aim with no awarding
    body (unregulated); refuse the file with every bad line listed. An awarding body that
    spells a known one apart from spacing is refused with it suggested, never taken for it."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ImportRefused(f"cannot read the aims file {path}: {error.strerror}", []) from None
    with handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None:
            raise ImportRefused(f"the aims file {path} is empty", [])
        keys = [_key(cell) for cell in header]
        positions = {name: next((i for i, key in enumerate(keys) if key in aliases), None)
                     for name, aliases in COLUMNS.items()}
        missing = [name for name in ("learn_aim_ref", "awarding_body", "title")
                   if positions[name] is None]
        if missing:
            raise ImportRefused(
                f"the aims file {path.name} has no {', '.join(missing)} column "
                "(expected the LARS download's LearnAimRef, AwardOrgCode, LearnAimRefTitle)",
                [RowProblem(1, "", f"header: {', '.join(c for c in header if c)}")])
        aims: dict[str, Aim | None] = {}
        problems: list[RowProblem] = []
        for line, cells in enumerate(rows, 2):
            if not any(cell.strip() for cell in cells):
                continue

            def cell(name: str, cells: list[str] = cells) -> str:
                index = positions[name]
                return cells[index].strip() if index is not None and index < len(cells) else ""

            reference = cell("learn_aim_ref").upper()
            if reference and not cell("awarding_body"):
                aims[reference] = None
                continue
            try:
                aims[reference] = _aim(reference, cell("awarding_body"), cell("qualification"),
                                       cell("title"), known_bodies)
            except InvalidValue as error:
                problems.append(RowProblem(line, error.field, error.message))
        if problems:
            raise ImportRefused(f"{len({p.line for p in problems})} line(s) of the aims file "
                                f"{path.name} are invalid; nothing was written", problems)
    return aims


def _aim(reference: str, body: str, qualification: str, title: str,
         known_bodies: frozenset[str]) -> Aim:
    if not reference:
        raise InvalidValue("learn_aim_ref", "is required")
    try:
        awarding_body = parse_awarding_body(body)
    except InvalidValue as error:
        raise InvalidValue(error.field, with_suggestion(error.message, body, known_bodies)) \
            from None
    number = qualification or qualification_from_aim(reference)
    if number is None:
        raise InvalidValue("qualification", f"is required for the unregulated aim {reference}")
    return Aim(awarding_body, parse_qualification(number), parse_text(title, "title"))
