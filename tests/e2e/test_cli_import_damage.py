"""Damaged import files: a stray quote never swallows rows, and refusals come as JSON too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.demo import write_demo_files


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("export")
    target = folder / "centre.csv"
    write_demo_files(target, folder / "lrs.csv", 60, 2026)
    return target.read_text(encoding="utf-8-sig")


def broken(tmp_path: Path, text: str, line: int) -> str:
    """The export with a stray quote before the given name on `line` (the sed of the issue)."""
    lines = text.split("\n")
    cells = lines[line - 1].split(",")
    cells[3] = '"' + cells[3]
    lines[line - 1] = ",".join(cells)
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines), encoding="utf-8-sig")
    return str(path)


def events_recorded(ledger) -> int:
    """Events in the ledger; 0 when a refused first import left no ledger behind at all."""
    digest = ledger("digest", "--format", "json")
    if digest.exit_code == 1 and "no ledger" in digest.stderr:
        return 0
    return json.loads(digest.stdout)["position"]


@pytest.mark.parametrize("flags", [(), ("--skip-invalid",)])
def test_a_stray_quote_that_swallows_rows_refuses_the_file_even_with_skip_invalid(
        ledger, tmp_path, export, flags):
    result = ledger("import", broken(tmp_path, export, 3), *flags)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "  line 3: a quote opened on this line is not closed until line" in result.stderr
    assert "Error: line 3 has a stray quote" in result.stderr
    assert "even with --skip-invalid" in result.stderr
    assert events_recorded(ledger) == 0


def test_a_quote_closed_on_its_own_line_costs_only_that_row_with_skip_invalid(
        ledger, tmp_path, export):
    lines = export.split("\n")
    rows = sum(1 for line in lines[1:] if line.strip())
    cells = lines[2].split(",")
    cells[3], cells[4] = '"' + cells[3], cells[4] + '"'
    lines[2] = ",".join(cells)
    path = tmp_path / "one-bad-row.csv"
    path.write_text("\n".join(lines), encoding="utf-8-sig")
    result = ledger("import", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    assert f"  rows:                  {rows}\n" in result.stdout
    assert "  rows skipped:          1\n" in result.stdout
    assert "Skipped line 3" in result.stderr


def test_a_multi_line_note_in_quotes_is_still_one_row(ledger, tmp_path):
    body = ("centre,learner,given_name,family_name,date_of_birth,gender,enrolment,"
            "awarding_body,qualification,qualification_title,programme_start,planned_end,"
            "note\n"
            'C1,L1,Ann,Smith,2000-01-01,2,E1,IMI,603/1234/5,Diploma,2025-09-01,2026-07-01,'
            '"first line, of the note\nsecond line"\n'
            "C1,L2,Bob,Jones,2000-01-01,1,E1,IMI,603/1234/5,Diploma,2025-09-01,2026-07-01,\n")
    path = tmp_path / "notes.csv"
    path.write_text(body, encoding="utf-8")
    result = ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert "  rows:                  2\n" in result.stdout


def test_a_refused_import_in_json_prints_a_json_document_of_the_problems(ledger, tmp_path):
    body = ("centre,learner,given_name,family_name,date_of_birth,gender,enrolment,"
            "awarding_body,qualification,qualification_title,programme_start,planned_end\n"
            "C1,L1,Ann,Smith,30/02/2000,2,E1,IMI,603/1234/5,Diploma,2025-09-01,2026-07-01\n")
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    result = ledger("import", str(path), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["refused"] is True
    assert document["file"] == "bad.csv"
    assert "nothing was written" in document["message"]
    assert document["problems"] == [{
        "line": 2, "column": "date_of_birth",
        "reason": "'30/02/2000' is not a real date (day is out of range for month)"}]
    assert result.stderr.startswith("Error: 1 of 1 row in bad.csv is invalid")


def test_a_stray_quote_refusal_in_json_names_the_line(ledger, tmp_path, export):
    result = ledger("import", broken(tmp_path, export, 5), "--format", "json",
                    "--skip-invalid")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [problem["line"] for problem in problems] == [5]
