"""Reading CSV records: cells by column, stripped of surrounding spaces, missing ones empty."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ledger.imports.rows import LearnerRow, parse_row
from ledger.imports.source import CsvSource, Record

HEADER = ("centre,learner,given_name,family_name,date_of_birth,gender,uln,enrolment,"
          "awarding_body,qualification,qualification_title,programme_start,planned_end\n")
ROW = ("58231,L001,Ada,Lovelace,1990-12-10,2,1000000043,E1,IMI,601/3413/0,Light Vehicle,"
       "2026-09-01,2027-06-30\n")


def _records(tmp_path: Path, text: str) -> list[Record]:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    source = CsvSource(path)
    source.header()
    return list(source.records())


def test_cells_are_read_without_their_surrounding_spaces_and_missing_cells_read_empty(
    tmp_path: Path,
) -> None:
    spaced = ",".join(f"  {cell}\t" for cell in ROW.rstrip("\n").split(",")[:-1]) + "\n"
    (record,) = _records(tmp_path, HEADER + spaced)
    assert record.get("learner") == "L001"
    assert record.get("given_name") == "Ada"
    assert record.get("programme_start") == "2026-09-01"
    assert record.get("planned_end") == ""  # the row stops short of it
    assert record.get("email") == ""  # not a column of this file


def test_a_row_with_spaced_cells_parses_as_the_same_row_without_them(tmp_path: Path) -> None:
    spaced = ",".join(f" {cell}  " for cell in ROW.rstrip("\n").split(",")) + "\n"
    plain, padded = (_records(tmp_path, HEADER + text)[0] for text in (ROW, spaced))
    layout = CsvSource(tmp_path / "export.csv").header().layout
    today = date(2026, 12, 1)
    parsed_plain, problems_plain = parse_row(plain, layout, today)
    parsed_padded, problems_padded = parse_row(padded, layout, today)
    assert problems_plain == problems_padded == []
    assert isinstance(parsed_plain, LearnerRow)
    assert parsed_padded == parsed_plain
