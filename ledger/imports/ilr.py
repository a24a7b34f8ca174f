"""ILR XML files (schema years 2024-25 to 2026-27) read safely and as a stream of records.

The parser refuses a document type, entities and external references (defusedxml's policy,
`safe_xml`): no entity is expanded (no billion laughs) and nothing outside the file is read
(no file or network access). Learners are read one at a time (memory stays flat whatever
the file's size); each learning delivery becomes one MIS-export record, so the CSV
import's checking, planning and writing apply unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from defusedxml import DefusedXmlException

from ledger.imports.aims import AimEntry
from ledger.imports.ilr_codes import (
    COLUMN_ELEMENTS,
    delivery_record,
    is_programme_aim,
    learner_cells,
)
from ledger.imports.layouts import MIS_EXPORT, Header
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.imports.safe_xml import safe_parser
from ledger.imports.source import Record, readable_size

SCHEMA_YEARS = {f"ESFA/ILR/{year}": year for year in ("2024-25", "2025-26", "2026-27")}
CHUNK_BYTES = 256 * 1024
LEARNER_FIELDS = frozenset({
    "LearnRefNumber", "ULN", "FamilyName", "GivenNames", "DateOfBirth", "Sex", "Postcode",
    "Email",
})
DELIVERY_FIELDS = frozenset({
    "LearnAimRef", "AimType", "AimSeqNumber", "LearnStartDate", "LearnPlanEndDate", "ProgType",
    "StdCode", "LearnActEndDate", "CompStatus", "WithdrawReason", "Outcome", "AchDate",
})
AIM_COLUMNS = frozenset({"awarding_body", "qualification", "qualification_title"})
MIS_HEADER = Header(MIS_EXPORT, {name: i for i, name in enumerate(MIS_EXPORT.columns)}, (),
                    len(MIS_EXPORT.columns))


class ElementProblem(RowProblem):
    """A problem named by the ILR element it is in (the learner and the delivery)."""

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


class _Learners:
    """Collects each Learner's fields and learning deliveries; hands over whole learners.

    Built for speed, as every worker of a large import parses the whole file: the text goes
    straight into a list (`CharacterDataHandler` is the list's own `append`, no Python call),
    emptied at each start tag, so at a field's end tag the list holds its text alone; depth
    is a counter and only the element at depth 1 (Learner or LearningProvider) is kept.
    """

    def __init__(self, source: IlrSource, header_only: bool,
                 parser: expat.XMLParserType) -> None:
        self.source, self.header_only, self.parser = source, header_only, parser
        self.depth = 0
        self.outer = ""  # the element at depth 1 being read: Learner, LearningProvider, ...
        self.text: list[str] = []
        self.learner: dict[str, str] = {}
        self.deliveries: list[tuple[int, dict[str, str]]] = []
        self.delivery: dict[str, str] | None = None
        self.line = 0
        self.ready: list[Record] = []
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text.append

    def line_now(self) -> int:
        return self.parser.CurrentLineNumber

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.text.clear()
        depth = self.depth
        self.depth = depth + 1
        if depth == 0:
            prefix = name.rpartition(":")[0]
            self.source.start_message(attrs.get(f"xmlns:{prefix}" if prefix else "xmlns"),
                                      _local(name))
            return
        if ":" in name:
            name = _local(name)
        if depth == 2:
            if name == "LearningDelivery" and self.outer == "Learner":
                self.delivery = {}
                self.deliveries.append((self.parser.CurrentLineNumber, self.delivery))
        elif depth == 1:
            self.outer = name
            if name == "Learner":
                if self.header_only:
                    raise _HeaderRead
                self.learner, self.deliveries = {}, []
                self.line = self.parser.CurrentLineNumber

    def end(self, name: str) -> None:
        depth = self.depth = self.depth - 1
        if ":" in name:
            name = _local(name)
        if depth == 3:
            if self.delivery is not None and name in DELIVERY_FIELDS:
                self.delivery[name] = "".join(self.text).strip()
        elif depth == 2:
            if self.outer == "Learner":
                if name == "LearningDelivery":
                    self.delivery = None
                elif name in LEARNER_FIELDS:
                    self.learner[name] = "".join(self.text).strip()
            elif self.outer == "LearningProvider" and name == "UKPRN":
                self.source.ukprn = "".join(self.text).strip()
        elif depth == 1 and name == "Learner":
            self.ready.extend(self.source.learner_records(self.line, self.learner,
                                                          self.deliveries))


def _local(name: str) -> str:
    """An element's name without its namespace prefix."""
    return name.rpartition(":")[2]


class _HeaderRead(Exception):
    """The first learner is reached: the header is read."""


@dataclass
class IlrSource:
    """An ILR file read as MIS-export records, one per learning delivery."""

    path: Path
    aims: dict[str, AimEntry]
    centre: str | None = None  # --centre, else the file's UKPRN
    bytes_read: int = 0
    bytes_per_event: int = 200  # about what an ILR file holds for each event its learners plan
    size: int = field(init=False)
    year: str = field(init=False, default="")
    ukprn: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.size = readable_size(self.path)

    def header(self) -> Header:
        """Read the file up to its first learner: its schema year and provider."""
        for _ in self._records(header_only=True):
            pass
        return MIS_HEADER

    def records(self) -> Iterator[Record]:
        return self._records(header_only=False)

    def start_message(self, uri: str | None, local: str) -> None:
        year = SCHEMA_YEARS.get(uri or "")
        if local != "Message" or year is None:
            supported = ", ".join(SCHEMA_YEARS)
            raise ImportRefused(
                f"{self.path.name} is not an ILR file of a supported year; nothing was written",
                [RowProblem(1, "", f"the root element is {local} in namespace {uri!r}; "
                                   f"expected Message in {supported}")])
        self.year = year

    def learner_records(self, line: int, learner: dict[str, str],
                        deliveries: list[tuple[int, dict[str, str]]]) -> list[Record]:
        """A learner's records: one per learning delivery that is not a programme aim."""
        centre = self.centre or self.ukprn
        details = learner_cells(centre, learner)
        records = [delivery_record(at, details, delivery, self.aims)
                   for at, delivery in deliveries if not is_programme_aim(delivery)]
        if not records:
            problem = RowProblem(line, "LearningDelivery",
                                 "the learner has no learning aim to enrol on (none, or only "
                                 "programme aims)")
            records = [Record(line, details, problems=(problem,))]
        return records

    def _records(self, header_only: bool) -> Iterator[Record]:
        self.bytes_read = 0
        parser = safe_parser()
        handler = _Learners(self, header_only, parser)
        with self.path.open("rb") as handle:
            try:
                while chunk := handle.read(CHUNK_BYTES):
                    parser.Parse(chunk, False)
                    self.bytes_read += len(chunk)
                    yield from handler.ready
                    handler.ready.clear()
                parser.Parse(b"", True)
            except _HeaderRead:
                return
            except expat.ExpatError as error:
                raise ImportRefused(
                    f"{self.path.name} is not well-formed XML; nothing was written",
                    [RowProblem(error.lineno, "", expat.errors.messages[error.code])]
                ) from None
            except DefusedXmlException as error:
                raise ImportRefused(
                    f"{self.path.name} was refused: it declares a document type, entities or "
                    "external references, which an ILR file never has; nothing was written",
                    [RowProblem(handler.line_now(), "", str(error))]) from None
        yield from handler.ready
        if not self.year:
            raise ImportRefused(f"{self.path.name} has no ILR Message element", [])


def locate(path: Path, lines: set[int]) -> dict[int, str]:
    """Where each of these lines is: the learner (and learning delivery) starting on it."""
    found: dict[int, str] = {}
    if not lines:
        return found
    source = IlrSource(path, {})
    for record in source.records():
        if record.line in lines:
            where = f"Learner {record.get('learner') or '?'}"
            aim = record.get("enrolment")
            found[record.line] = where + (f" (AimSeqNumber {aim})" if aim else "")
    return found


def named_problems(path: Path, problems: list[RowProblem]) -> list[RowProblem]:
    """The problems, each naming its learner, delivery and element."""
    places = locate(path, {problem.line for problem in problems})
    unmapped = {p.line for p in problems if p.column == "LearningDelivery/LearnAimRef"}
    named: list[RowProblem] = []
    for problem in problems:
        if problem.line in unmapped and problem.column in AIM_COLUMNS:
            continue  # said once, on LearnAimRef
        element = COLUMN_ELEMENTS.get(problem.column, problem.column)
        if not element.startswith(("LearningDelivery", "LearningProvider")) and element:
            element = f"Learner/{element}"
        where = places.get(problem.line, "")
        column = ", ".join(part for part in (where, element) if part)
        named.append(ElementProblem(problem.line, column, problem.reason))
    return named
