"""Streaming a CSV file: UTF-8 with or without BOM, line numbers, blank lines skipped."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ledger.imports.layouts import Header, read_header
from ledger.imports.problems import ImportRefused, RowProblem

csv.field_size_limit(1_000_000)


@dataclass(frozen=True)
class Record:
    """One data row: the line it starts on and its cells by column name, stripped of
    surrounding spaces (missing cells empty)."""

    line: int
    cells: dict[str, str]
    extra: tuple[str, ...] = ()
    problems: tuple[RowProblem, ...] = ()  # found by the source itself (an ILR element, say)

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


class RecordSource(Protocol):
    """What an import reads: a header matched to a layout, then records, streamed again on
    each call; `size` and `bytes_read` follow progress, `bytes_per_event` sizes the work."""

    size: int
    bytes_read: int
    bytes_per_event: int

    def header(self) -> Header: ...

    def records(self) -> Iterator[Record]: ...


@dataclass
class CsvSource:
    """A CSV file read as a stream of records; `bytes_read` follows progress through it."""

    path: Path
    layout_name: str = "auto"
    bytes_read: int = 0
    size: int = field(init=False)
    bytes_per_event: int = 44  # about what an MIS export holds for each event its rows plan

    def __post_init__(self) -> None:
        self.size = readable_size(self.path)

    def header(self) -> Header:
        """The header row, matched to a layout (reads the start of the file only)."""
        for _ in self._records(header_only=True):
            pass
        return self._header

    def records(self) -> Iterator[Record]:
        """Every non-blank data row, in file order."""
        return self._records(header_only=False)

    def _records(self, header_only: bool) -> Iterator[Record]:
        self.bytes_read = 0
        with self.path.open("rb") as handle:
            reader = csv.reader(self._lines(handle), strict=False)
            header: Header | None = None
            last_line = 0
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as error:
                    raise ImportRefused(
                        "the file is not readable CSV; nothing was written",
                        [RowProblem(last_line + 1, "", f"not CSV: {error}")],
                    ) from None
                line, last_line = last_line + 1, reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if header is not None and last_line > line:
                    check_swallowed(header, cells, line, last_line)
                if header is None:
                    header = read_header(cells, line, self.layout_name)
                    self._header = header
                    if header_only:
                        return
                    continue
                yield self._record(header, cells, line)
            if header is None:
                raise ImportRefused("the file has no header row; nothing was written",
                                    [RowProblem(0, "", "the file is empty")])

    @staticmethod
    def _record(header: Header, cells: list[str], line: int) -> Record:
        named = {name: cells[index].strip() if index < len(cells) else ""
                 for name, index in header.positions.items()}
        extra = tuple(cell for cell in cells[header.width:] if cell.strip())
        return Record(line, named, extra)

    def _lines(self, handle: object) -> Iterator[str]:
        for number, raw in enumerate(handle, 1):  # type: ignore[call-overload]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ImportRefused(
                    "the file is not UTF-8 text; nothing was written",
                    [RowProblem(number, "", f"not UTF-8 (byte {error.start + 1} of the line); "
                                            "save the file as CSV UTF-8")],
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            if "\x00" in text:
                raise ImportRefused(
                    "the file is not CSV text; nothing was written",
                    [RowProblem(number, "", "contains NUL bytes (is it a spreadsheet file?)")],
                )
            self.bytes_read += len(raw)
            yield text


def check_swallowed(header: Header, cells: list[str], line: int, end: int) -> None:
    """Refuse the file when a record read from several physical lines swallowed other rows:
    a stray quote makes the CSV reader read every line up to the next quote (or the end of
    the file) as one cell, so the rows in between would be lost, not just this one."""
    rows_inside = sum(
        1 for cell in cells if "\n" in cell
        for inner in cell.split("\n")[1:] if inner.count(",") >= max(1, header.width // 2)
    )
    if len(cells) == header.width and not rows_inside:
        return  # a cell holding line breaks (a multi-line note), the row otherwise whole
    reason = (f"a quote opened on this line is not closed until line {end}: lines {line + 1} "
              f"to {end} were read as part of this row ({len(cells)} cells where the header "
              f"has {header.width}); fix or remove the stray quote")
    raise ImportRefused(
        f"line {line} has a stray quote that swallows the {end - line} "
        f"{'line' if end - line == 1 else 'lines'} after it; the file "
        "is refused, even with --skip-invalid, as those rows would be lost; nothing was "
        "written", [RowProblem(line, "", reason)],
    )


def readable_size(path: Path) -> int:
    """The size of an import file, refused (ImportRefused) when it cannot be read or is not
    a file."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImportRefused(f"cannot read {path}: {error.strerror}", []) from None
    if not path.is_file():
        raise ImportRefused(f"{path} is not a file", [])
    return size
