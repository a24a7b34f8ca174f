"""Output made safe and fitted at print time: CSV formulas, terminal escapes, table widths."""

import csv
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import output
from cli.output import (
    csv_cell,
    emit_rows,
    emit_table,
    folded,
    plural,
    stream_table,
    terminal_text,
)


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\tcmd", "\rcmd"])
def test_a_cell_a_spreadsheet_would_read_as_a_formula_is_prefixed_with_a_quote(text):
    assert csv_cell(text) == "'" + text


def test_numbers_dates_and_plain_text_are_left_as_they_are_in_csv():
    assert csv_cell(-5) == "-5"
    assert csv_cell(2.5) == "2.5"
    assert csv_cell("Smith") == "Smith"
    assert csv_cell("2026-09-01") == "2026-09-01"
    assert csv_cell(None) == ""


def test_csv_output_neutralises_every_cell_and_stays_parseable(capsys):
    rows = [{"note": "=HYPERLINK(\"http://evil\",\"click\")", "actor": "@bob", "n": -1}]
    emit_rows(rows, ["note", "actor", "n"], "csv")
    parsed = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert parsed[1] == ["'=HYPERLINK(\"http://evil\",\"click\")", "'@bob", "-1"]


@given(st.text())
@settings(deadline=None)
def test_no_csv_cell_starts_like_a_formula_unless_it_is_a_number(text):
    assert not csv_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))


@given(st.text())
@settings(deadline=None)
def test_terminal_text_holds_no_control_characters(text):
    shown = terminal_text(text)
    assert all(char.isprintable() or char == " " for char in shown)
    if text.isprintable():
        assert shown == text


def test_ansi_escapes_and_line_breaks_are_shown_escaped_in_a_table(capsys):
    rows = [{"note": "red \x1b[31mALERT\x1b[0m\nsecond line\rthird"}]
    emit_table(rows, ["note"], width=80)
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\\x1b[31mALERT\\x1b[0m\\nsecond" in out
    assert "line\\rthird" in out


TOKENS = ["2026-09-01", "siân.o'brien@example.org", "603/1234/5", "1000000043", "L000123"]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_table_fits_the_width_and_never_breaks_a_date_email_reference_or_number(
        capsys, width):
    rows = [{"learner": f"L00012{i}", "email": TOKENS[1], "qualification": TOKENS[2],
             "uln": TOKENS[3], "start": TOKENS[0],
             "note": "a long free-text note that has to be folded at its spaces " * 3}
            for i in range(3)]
    emit_table(rows, list(rows[0]), width=width)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= width
    for token in TOKENS[:4]:
        assert len(re.findall(re.escape(token), out)) == 3, token


def test_the_table_takes_the_terminal_width_not_160_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "90")
    rows = [{"note": "word " * 60}]
    emit_table(rows, ["note"])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 90
    assert output.terminal_width() == 90


def test_counts_are_pluralised():
    assert plural(1, "enrolment") == "1 enrolment"
    assert plural(2, "enrolment") == "2 enrolments"
    assert plural(1, "day") == "1 day"
    assert plural(1200, "day") == "1,200 days"
    assert plural(0, "entry", "entries") == "0 entries"


@settings(deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8))
def test_a_streamed_json_row_is_the_text_json_dumps_makes(value: object) -> None:
    from cli.output import json_text, plain

    assert json_text(value) == json.dumps(plain(value), indent=2, ensure_ascii=False)


WORDS = st.text(alphabet="abcdefghij@.-0123456789", min_size=1, max_size=120)


@given(st.lists(WORDS, min_size=1, max_size=12), st.integers(20, 120), st.integers(0, 8))
def test_folding_never_breaks_a_word(words: list[str], width: int, indent: int) -> None:
    """Every word comes out whole (an e-mail address longer than the line stands alone on
    its line), and a line of several words fits the width."""
    lines = folded(" ".join(words), width, indent).split("\n")
    assert [word for line in lines for word in line.split()] == words
    for line in lines:
        if len(line.split()) > 1:
            assert len(line) <= max(width, indent + 20)


def test_a_table_with_no_rows_says_so_under_its_title(capsys):
    stream_table(iter([]), ["learner", "status"], {"learner": 6}, "Late registrations")
    emit_table([], ["learner", "status"], "Certificates")
    assert capsys.readouterr().out.splitlines() == [
        "Late registrations", "(none)", "Certificates", "(none)"]
