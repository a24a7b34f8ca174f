"""The learning-aims file (`--aims`): LARS learning aim reference to awarding body,
qualification number and title, which the ILR itself does not carry."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from aggregates.errors import InvalidValue
from aggregates.values import parse_qualification, parse_text
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.rules.names import parse_known_awarding_body

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
REGULATED_AIM = re.compile(r"^[0-9]{7}[0-9X]$")  # a qualification number without slashes


NO_AWARDING_BODY = frozenset({"", "NONE", "N/A", "NA", "UNKNOWN"})


@dataclass(frozen=True)
class Unusable:
    """An aim in the aims file the ledger cannot enrol on, and why (its line)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.reason} (aims file line {self.line})"


@dataclass(frozen=True)
class Aim:
    """What the ledger needs of one learning aim to enrol a learner on it."""

    awarding_body: str
    qualification: str
    title: str


AimEntry = Aim | Unusable


def qualification_from_aim(reference: str) -> str | None:
    """The qualification number a regulated aim's reference spells (6035713X -> 603/5713/X)."""
    if not REGULATED_AIM.match(reference):
        return None
    return f"{reference[:3]}/{reference[3:7]}/{reference[7]}"


def _key(cell: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", cell.strip().lower().removeprefix("\ufeff")).strip("_")


def load_aims(path: Path, known_bodies: frozenset[str] = frozenset()) -> dict[str, AimEntry]:
    """Every aim in the file by its reference (upper case). An aim the ledger cannot enrol
    on (no awarding body, as for unregulated aims; an unusable code or title) is kept as
    Unusable with why, so a learning delivery on it is refused naming that line, while the
    rest of a full LARS download stays usable. An awarding body that spells a known one
    apart from case or spacing is unusable, with the known one suggested."""
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
        aims: dict[str, AimEntry] = {}
        for line, cells in enumerate(rows, 2):

            def cell(name: str, cells: list[str] = cells) -> str:
                index = positions[name]
                return cells[index].strip() if index is not None and index < len(cells) else ""

            reference = cell("learn_aim_ref").upper()
            if reference:
                aims[reference] = _aim(line, reference, cell("awarding_body"),
                                       cell("qualification"), cell("title"), known_bodies)
    return aims


def _aim(line: int, reference: str, body: str, qualification: str, title: str,
         known_bodies: frozenset[str]) -> AimEntry:
    if body.upper() in NO_AWARDING_BODY:
        return Unusable(line, "has no awarding body in the aims file: it is not a "
                              "qualification the ledger can register")
    number = qualification or qualification_from_aim(reference)
    try:
        if number is None:
            raise InvalidValue("qualification", "has no qualification number and its "
                                                "reference does not spell one")
        return Aim(parse_known_awarding_body(body, known_bodies), parse_qualification(number),
                   parse_text(title, "title"))
    except InvalidValue as error:
        return Unusable(line, f"{error.field}: {error.message}")
