"""LRS batch files: request files written from the ledger, output files read back as ULN results.

The layout, as far as public material settles it (docs/import.md, "LRS batch files", says
what each source gives and what is left open):

- the LRS's "LRB batch file quick reference guide" (on the search tool's pages): files are
  named `LRB_<UKPRN>_<DDMMYYYYHHMM>.CSV` (the extension in upper case); the headings must be
  spelled and ordered exactly, and are case sensitive; the first four columns of row 2 are
  the file header, all mandatory: the file version (always 2A), a file name (any internal
  reference), the UKPRN and a fourth the guide's excerpt cuts off;
- an MIS's batch-file writer (github.com/shTalhagaba/sunsis-core,
  Core/htdocs/actions/act_download_miap.php): one heading row, the file header's four
  columns (the fourth is `LearnerRecordCount`) then the learner's 26, the header's values
  on row 2 before the first learner's cells, and those four cells left empty on later rows;
- the LRS web service's schema in the same repository (Core/htdocs/MIAP/learner.xsd,
  namespace http://api.lrs.miap.gov.uk/learner): `BatchLearner` has the same 26 fields in
  the same order, dates as YYYY-MM-DD, gender 0, 1, 2 or 9; `OutputBatchLearner`, a
  learner of the batch's output, is a `BatchLearner` and a `ReturnCode`.

So the output file is read as the request's layout with a return code column; since no
public example of the output CSV was found, its headings are matched without regard to case,
spaces or underscores, and only `MISIdentifier`, `ULN` and `ReturnCode` are required.

Files hold 50 to 5,000 learners (seed 004); fewer go to the portal's single look-up.
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
FILE_HEADER = ("FileVersion", "FileName", "UKPRN", "LearnerRecordCount")
LEARNER_COLUMNS = (
    "ULN", "MISIdentifier", "Title", "GivenName", "PreferredGivenName", "MiddleOtherName",
    "FamilyName", "PreviousFamilyName", "FamilyNameAt16", "SchoolAtAge16",
    "LastKnownAddressLine1", "LastKnownAddressLine2", "LastKnownAddressTown",
    "LastKnownAddressCountyorCity", "LastKnownPostCode", "DateOfAddressCapture", "DateOfBirth",
    "PlaceOfBirth", "EmailAddress", "Gender", "Nationality", "ScottishCandidateNumber",
    "AbilityToShare", "VerificationType", "OtherVerificationDescription", "Notes",
)
REQUEST_COLUMNS = FILE_HEADER + LEARNER_COLUMNS
RETURN_CODE = "ReturnCode"
OUTPUT_COLUMNS = (RETURN_CODE,)
REQUIRED_IN_OUTPUT = ("MISIdentifier", "ULN", RETURN_CODE)
SMALLEST_BATCH, LARGEST_BATCH = 50, 5_000
FILE_NAME = re.compile(r"^LRB_(?P<ukprn>[A-Za-z0-9]+)_(?P<stamp>\d{12})(?:_OUTPUT)?(?:\.CSV)?$",
                       re.IGNORECASE)
CODE = re.compile(r"^\s*(RC)\s*0*(\d{1,3})\b", re.IGNORECASE)  # "RC013", "RC013 - Learner(s) ..."

# The batch return codes, what each means for the learner's ULN. Verified: RC006 (the LRS's
# "Managing exceptions user guide", July 2018, section 4.1), RC011 and RC013 (the LRS's notice
# of 12 July 2018 introducing RC013, quoted in bitbucket.org/emilrw/scormdata issue 641).
# The others are as recalled from the LRS's guide: searched for again on 2026-12-07 (the
# guide's section 5, "Return codes and what they mean", is held by the search tool only as
# its contents page; no public code or schema names the codes; docs/import.md lists what was
# searched), still unverified, and every meaning shown or recorded for one says so
# (`described`). An unknown code refuses its line rather than be guessed at.
RETURN_CODES = {
    "RC001": ("found", "learner found: the ULN is returned"),
    "RC002": ("created", "new learner registered: a ULN is created"),
    "RC003": ("exception", "possible matches: resolve on the portal"),
    "RC004": ("exception", "too many matches: resolve on the portal"),
    "RC005": ("exception", "learner found but not verified: resolve on the portal"),
    "RC006": ("exception", "insufficient data to create a ULN"),
    "RC007": ("exception", "learner details do not match the ULN"),
    "RC008": ("exception", "the ULN belongs to a linked (merged) learner"),
    "RC009": ("exception", "learner details invalid"),
    "RC010": ("exception", "duplicate learner in the file"),
    "RC011": ("exception", "incorrect format"),
    "RC012": ("exception", "learner record withheld"),
    "RC013": ("exception", "learner(s) outside of permitted age range"),
}
VERIFIED_CODES = frozenset({"RC006", "RC011", "RC013"})
UNVERIFIED = "meaning not verified against the LRS's guide"


def described(code: str) -> str:
    """A return code's meaning as shown and recorded: an unverified one says so."""
    meaning = RETURN_CODES[code][1]
    return meaning if code in VERIFIED_CODES else f"{meaning} ({UNVERIFIED})"


def heading_key(name: str) -> str:
    """A heading as compared: case, spaces and underscores ignored (`Return_Code`,
    `return code` and `ReturnCode` are one column)."""
    return re.sub(r"[\s_]", "", name).casefold()


def return_code(text: str) -> str | None:
    """The return code a cell holds (`RC013`, `rc13`, `RC013 - Learner(s) outside ...`), as
    RC and three digits; None if it holds none."""
    match = CODE.match(text)
    return f"RC{int(match[2]):03d}" if match else None


@dataclass(frozen=True)
class LookupLearner:
    """One learner the LRS is asked about, with why."""

    reference: str
    uln: str | None
    details: dict[str, Any]
    reason: str

    def row(self) -> dict[str, str]:
        """The learner's cells, by heading (the others are left empty)."""
        details = self.details
        born = details.get("date_of_birth")
        gender = details.get("gender")
        return {
            "ULN": self.uln or "", "MISIdentifier": self.reference,
            "Title": details.get("title") or "",
            "GivenName": details.get("given_name") or "",
            "FamilyName": details.get("family_name") or "",
            "LastKnownPostCode": details.get("postcode") or "",
            "DateOfBirth": born.isoformat() if isinstance(born, date) else "",
            "EmailAddress": details.get("email") or "",
            "Gender": "" if gender is None else str(gender),
            # the centre shows the LRS privacy notice at enrolment (seed 003), so sharing is
            # as the LRS's default; the ledger records no learner's choice otherwise
            "AbilityToShare": "1", "Notes": self.reason,
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
    """A request file's text: the heading row, then a row a learner, the first also holding
    the file header's values (file version, file name, UKPRN, learner count)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REQUEST_COLUMNS)
    header = (FILE_VERSION, name.removesuffix(".CSV"), ukprn, str(len(learners)))
    for index, learner in enumerate(learners):
        row = learner.row()
        first = header if index == 0 else ("",) * len(FILE_HEADER)
        writer.writerow([*first, *(row.get(column, "") for column in LEARNER_COLUMNS)])
    return out.getvalue()


def learner_cells(text: str) -> list[tuple[str, ...]]:
    """A request file's learner cells, row by row, without the file header's (which name
    the file and its time)."""
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return [tuple(row[len(FILE_HEADER):]) for row in rows]


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
    _positions: dict[str, int] = field(default_factory=dict, repr=False)

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
        """Read the heading row and the file header's values on row 2 (refused, naming the
        line, if a required column is missing or the file version is not 2A)."""
        rows = list(csv.reader(self._lines[:2]))
        if not rows:
            self._refuse(1, "the file is empty (an LRS output file has a heading row, then a "
                            "row a learner)")
        self._positions = {}
        for index, heading in enumerate(rows[0]):
            self._positions.setdefault(heading_key(heading), index)
        missing = [name for name in REQUIRED_IN_OUTPUT if heading_key(name) not in self._positions]
        if missing:
            self._refuse(1, f"missing column(s) {', '.join(missing)} (headings are matched "
                            "without regard to case, spaces or underscores; is it the LRS's "
                            "output file?)")
        self._read_file_header(rows[1] if len(rows) > 1 else [])
        return Header(EVENTS, {name: i for i, name in enumerate(EVENTS.columns)}, (),
                      len(EVENTS.columns))

    def _read_file_header(self, second: list[str]) -> None:
        """The file version, UKPRN and file name on row 2, where the file has those columns
        (the request file does; whether every output file does, no public example shows)."""
        version = self._cell(second, "FileVersion")
        if "fileversion" in self._positions and version.upper() != FILE_VERSION:
            self._refuse(2, f"the file version must be {FILE_VERSION} (FileVersion is "
                            f"{version!r})")
        self.file_centre = self._cell(second, "UKPRN")
        if self.on is None:
            match = (FILE_NAME.match(self._cell(second, "FileName"))
                     or FILE_NAME.match(self.path.name))
            if match is None:
                self._refuse(2, "the file name is not LRB_<UKPRN>_<DDMMYYYYHHMM>: give --on "
                                "DATE, the date of the LRS's answer")
            assert match is not None
            self.on = datetime.strptime(match["stamp"], "%d%m%Y%H%M").date()

    def _refuse(self, line: int, reason: str) -> None:
        raise ImportRefused(f"{self.path.name} is not an LRS batch output file; nothing was "
                            "written", [RowProblem(line, "", reason)])

    def records(self) -> Iterator[Record]:
        """A ULN and a successful match for each learner found or created; each exception
        kept aside; a row with an unknown return code, or no ULN where one is due, refused."""
        self.bytes_read, self.exceptions, self.learners = 0, [], 0
        for line, cells in enumerate(csv.reader(self._lines[1:]), 2):
            self.bytes_read += sum(len(cell) + 1 for cell in cells)
            if not self._has_learner(cells):
                continue  # a blank line, or (on row 2) the file header alone
            self.learners += 1
            yield from self._learner(line, cells)

    def _has_learner(self, cells: list[str]) -> bool:
        """Whether a row has anything in it besides the file header's cells."""
        header = {self._positions.get(heading_key(name)) for name in FILE_HEADER}
        return any(cell.strip() for index, cell in enumerate(cells) if index not in header)

    def _learner(self, line: int, cells: list[str]) -> Iterator[Record]:
        reference, uln, text = (self._cell(cells, c) for c in REQUIRED_IN_OUTPUT)
        code = return_code(text)
        known = RETURN_CODES.get(code or "")
        outcome = known[0] if known else ""
        meaning = described(code) if known and code else ""
        base = {"centre": self.centre or self.file_centre, "learner": reference,
                "occurred_on": self.on.isoformat() if self.on else ""}
        if not outcome:
            problem = RowProblem(line, RETURN_CODE, f"{text!r} is not an LRS batch return code "
                                                    f"(RC001 to RC013)")
            yield Record(line, {**base, "event": "uln", "uln": uln}, problems=(problem,))
        elif outcome == "exception":
            assert code is not None
            self.exceptions.append(LrsException(line, reference, code, meaning))
        elif not uln:
            problem = RowProblem(line, "ULN", f"is required with {code} ({meaning})")
            yield Record(line, {**base, "event": "uln", "uln": uln}, problems=(problem,))
        else:
            note = f"LRS batch {code}: {meaning}"
            yield Record(line, {**base, "event": "uln", "uln": uln, "note": note})
            yield Record(line, {**base, "event": "lrs-result", "code": "WSVRC001", "note": note})

    def _cell(self, cells: list[str], name: str) -> str:
        """The cell under a heading ("" if the file has no such column, or the row no cell)."""
        index = self._positions.get(heading_key(name))
        return cells[index].strip() if index is not None and index < len(cells) else ""
