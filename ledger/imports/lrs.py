"""LRS batch files: request files written from the ledger, output files read back as ULN results.

The layout follows the LRS CSV batch file ("How to prepare an LRS batch file", LRS, April
2019): a file header (file version 2A, file name, UKPRN) on rows 1 and 2, the learner
column headings on row 3, one learner a row after. Files are named
`LRB_<UKPRN>_<DDMMYYYYHHMM>.CSV` and hold 50 to 5,000 learners; fewer go to the portal's
single look-up. The output file the LRS returns is the same layout with a return code and
the ULN found or created for each learner.

Only the guide's contents and the quick-reference guide's file-header rules could be read
for this module; the learner headings and the return codes below follow the LRS CSV template
as recalled, and are kept here, in one place, to be checked against the guide and a real
output file (an unknown return code refuses the file, naming its line, rather than guess).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ledger.imports.layouts import EVENTS, Header
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.imports.source import Record

FILE_VERSION = "2A"
FILE_HEADER = ("FileVersion", "FileName", "UKPRN")
LEARNER_COLUMNS = (
    "MIS_Identifier", "ULN", "Title", "Given_Name", "Preferred_Given_Name",
    "Middle_Other_Names", "Family_Name", "Previous_Family_Name", "Family_Name_At_16",
    "School_At_Age_16", "Last_Known_Postcode", "Previous_Postcode", "Date_Of_Birth",
    "Place_Of_Birth", "Gender", "Email_Address", "Nationality", "Scottish_Candidate_Number",
    "Ability_To_Share", "Verification_Type", "Other_Verification_Description", "Notes",
)
OUTPUT_COLUMNS = ("Return_Code",)
SMALLEST_BATCH, LARGEST_BATCH = 50, 5_000
FILE_NAME = re.compile(r"^LRB_(?P<ukprn>[A-Za-z0-9]+)_(?P<stamp>\d{12})(?:_OUTPUT)?(?:\.CSV)?$",
                       re.IGNORECASE)

# the LRS's batch return codes: what each means for the learner's ULN
RETURN_CODES = {
    "RC001": ("found", "learner found: the ULN is returned"),
    "RC002": ("created", "new learner registered: a ULN is created"),
    "RC003": ("exception", "possible matches: resolve on the portal"),
    "RC004": ("exception", "too many matches: resolve on the portal"),
    "RC005": ("exception", "learner found but not verified: resolve on the portal"),
    "RC006": ("exception", "ULN not found"),
    "RC007": ("exception", "learner details do not match the ULN"),
    "RC008": ("exception", "the ULN belongs to a linked (merged) learner"),
    "RC009": ("exception", "learner details invalid"),
    "RC010": ("exception", "duplicate learner in the file"),
    "RC011": ("exception", "incorrect format"),
    "RC012": ("exception", "learner record withheld"),
    "RC013": ("exception", "learner outside the permitted age range"),
}


@dataclass(frozen=True)
class LookupLearner:
    """One learner the LRS is asked about, with why."""

    reference: str
    uln: str | None
    details: dict[str, Any]
    reason: str

    def row(self) -> dict[str, str]:
        details = self.details
        born = details.get("date_of_birth")
        return {
            "MIS_Identifier": self.reference, "ULN": self.uln or "",
            "Title": details.get("title") or "",
            "Given_Name": details.get("given_name") or "",
            "Family_Name": details.get("family_name") or "",
            "Last_Known_Postcode": details.get("postcode") or "",
            "Date_Of_Birth": born.isoformat() if isinstance(born, date) else "",
            "Gender": str(details.get("gender") if details.get("gender") is not None else ""),
            "Email_Address": details.get("email") or "",
            "Ability_To_Share": "1", "Notes": self.reason,
        }


def batch_sizes(count: int) -> list[int]:
    """How many learners go in each file: 50 to 5,000 each, as even as can be (none if
    fewer than 50: those go to the portal's single look-up)."""
    if count < SMALLEST_BATCH:
        return []
    files = math.ceil(count / LARGEST_BATCH)
    size, extra = divmod(count, files)
    return [size + 1 if index < extra else size for index in range(files)]


def file_name(ukprn: str, moment: datetime) -> str:
    return f"LRB_{ukprn}_{moment.strftime('%d%m%Y%H%M')}.CSV"


def request_text(name: str, ukprn: str, learners: list[LookupLearner]) -> str:
    """A request file's text: the file header, the learner headings, a row a learner."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FILE_HEADER)
    writer.writerow((FILE_VERSION, name.removesuffix(".CSV"), ukprn))
    writer.writerow(LEARNER_COLUMNS)
    for learner in learners:
        row = learner.row()
        writer.writerow([row.get(column, "") for column in LEARNER_COLUMNS])
    return out.getvalue()


@dataclass
class LrsException:
    """A learner the LRS could not give a ULN for: listed for manual resolution."""

    line: int
    reference: str
    code: str
    meaning: str


@dataclass
class LrsOutputSource:
    """An LRS batch output file read as event rows: a ULN and a successful match for each
    learner found or created; exceptions are kept aside, for listing."""

    path: Path
    centre: str | None = None
    on: date | None = None
    bytes_read: int = 0
    bytes_per_event: int = 10_000  # a small file: checked in one process
    size: int = field(init=False)
    exceptions: list[LrsException] = field(default_factory=list)
    learners: int = 0  # learner rows in the file
    file_centre: str = ""

    def __post_init__(self) -> None:
        try:
            self.size = self.path.stat().st_size
            self._lines = self.path.read_bytes().decode("utf-8-sig").splitlines()
        except OSError as error:
            raise ImportRefused(f"cannot read {self.path}: {error.strerror}", []) from None
        except UnicodeDecodeError:
            raise ImportRefused(f"{self.path.name} is not UTF-8 text; nothing was written",
                                [RowProblem(0, "", "not UTF-8")]) from None

    def header(self) -> Header:
        rows = list(csv.reader(self._lines[:3]))
        refuse = self._refuse
        if len(rows) < 3:
            refuse(len(rows) + 1, "an LRS file has a file header (2 rows) and learner headings")
        first, second, headings = rows
        if [cell.strip() for cell in first[:3]] != list(FILE_HEADER):
            refuse(1, f"the file header must be {', '.join(FILE_HEADER)}")
        if len(second) < 3 or second[0].strip() != FILE_VERSION:
            refuse(2, f"the file version must be {FILE_VERSION}")
        self.file_centre = second[2].strip()
        if self.on is None:
            match = FILE_NAME.match(second[1].strip()) or FILE_NAME.match(self.path.name)
            if match is None:
                refuse(2, "the file name is not LRB_<UKPRN>_<DDMMYYYYHHMM>: give --on DATE, "
                          "the date of the LRS's answer")
            assert match is not None
            self.on = datetime.strptime(match["stamp"], "%d%m%Y%H%M").date()
        names = [cell.strip() for cell in headings]
        missing = [c for c in ("MIS_Identifier", "ULN", *OUTPUT_COLUMNS) if c not in names]
        if missing:
            refuse(3, f"missing column(s) {', '.join(missing)} (is it the LRS's output file?)")
        self._positions = {name: names.index(name) for name in names}
        return Header(EVENTS, {name: i for i, name in enumerate(EVENTS.columns)}, (),
                      len(EVENTS.columns))

    def _refuse(self, line: int, reason: str) -> None:
        raise ImportRefused(f"{self.path.name} is not an LRS batch output file; nothing was "
                            "written", [RowProblem(line, "", reason)])

    def records(self) -> Iterator[Record]:
        self.bytes_read, self.exceptions, self.learners = 0, [], 0
        centre = self.centre or self.file_centre
        on = self.on.isoformat() if self.on else ""
        for line, cells in enumerate(csv.reader(self._lines[3:]), 4):
            self.bytes_read += sum(len(cell) + 1 for cell in cells)
            if not any(cell.strip() for cell in cells):
                continue
            self.learners += 1
            reference, uln, code = (self._cell(cells, c) for c in
                                    ("MIS_Identifier", "ULN", "Return_Code"))
            outcome, meaning = RETURN_CODES.get(code.upper(), ("", ""))
            base = {"centre": centre, "learner": reference, "occurred_on": on}
            if not outcome:
                problem = RowProblem(line, "Return_Code", f"{code!r} is not an LRS return code "
                                                          f"({', '.join(RETURN_CODES)})")
                yield Record(line, {**base, "event": "uln", "uln": uln}, problems=(problem,))
            elif outcome == "exception":
                self.exceptions.append(LrsException(line, reference, code.upper(), meaning))
            elif not uln:
                problem = RowProblem(line, "ULN", f"is required with {code} ({meaning})")
                yield Record(line, {**base, "event": "uln", "uln": uln}, problems=(problem,))
            else:
                note = f"LRS batch {code.upper()}: {meaning}"
                yield Record(line, {**base, "event": "uln", "uln": uln, "note": note})
                yield Record(line, {**base, "event": "lrs-result", "code": "WSVRC001",
                                    "note": note})

    def _cell(self, cells: list[str], name: str) -> str:
        index = self._positions[name]
        return cells[index].strip() if index < len(cells) else ""
