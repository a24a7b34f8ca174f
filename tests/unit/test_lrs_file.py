"""The LRS batch file's reading rules: headings and return codes as the LRS may spell them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.imports.lrs import (
    LEARNER_COLUMNS,
    REQUIRED_IN_OUTPUT,
    RETURN_CODES,
    VERIFIED_CODES,
    described,
    heading_key,
    return_code,
)

HEADINGS = st.sampled_from(LEARNER_COLUMNS + REQUIRED_IN_OUTPUT)


@st.composite
def respelled(draw: st.DrawFn) -> tuple[str, str]:
    """A heading and the same heading in other case, with spaces and underscores between
    some of its letters."""
    name = draw(HEADINGS)
    letters = [draw(st.sampled_from((letter.lower(), letter.upper()))) for letter in name]
    gaps = [draw(st.sampled_from(("", "", " ", "_"))) for _ in name]
    return name, "".join(gap + letter for gap, letter in zip(gaps, letters, strict=True))


@given(respelled())
def test_a_heading_is_matched_whatever_its_case_spaces_or_underscores(pair):
    name, spelled = pair
    assert heading_key(spelled) == heading_key(name)


def test_distinct_headings_stay_distinct():
    assert len({heading_key(name) for name in LEARNER_COLUMNS + REQUIRED_IN_OUTPUT}) == len(
        set(LEARNER_COLUMNS + REQUIRED_IN_OUTPUT))


@given(st.sampled_from(sorted(RETURN_CODES)), st.sampled_from(("", " - ", ": ", " ")),
       st.text(alphabet=st.characters(categories=("L", "Zs")), max_size=40))
def test_a_return_code_is_read_from_the_start_of_its_cell(code, separator, meaning):
    cell = f"{code}{separator}{meaning}" if separator else code
    assert return_code(cell) == code
    assert return_code(cell.lower()) == code
    assert return_code(f"RC{int(code[2:])}") == code  # RC13 is RC013


def test_a_cell_without_a_return_code_has_none():
    for cell in ("", "OK", "WSRC0004", "R C001", "RC", "RC1234"):
        assert return_code(cell) is None, cell


def test_the_codes_the_lrs_documents_as_exceptions_never_record_a_uln():
    """RC006 (insufficient data), RC011 (incorrect format) and RC013 (outside the permitted
    age range) are exceptions in the LRS's own words: listed for the portal, no ULN."""
    assert sorted(VERIFIED_CODES) == ["RC006", "RC011", "RC013"]
    assert {RETURN_CODES[code][0] for code in VERIFIED_CODES} == {"exception"}


@given(st.sampled_from(sorted(RETURN_CODES)))
def test_a_meaning_not_verified_against_the_lrs_guide_says_so_wherever_it_is_shown(code):
    """Only RC006, RC011 and RC013 are confirmed by a public LRS source; the others' meanings
    are as recalled, and what the ledger shows or records of them says so."""
    meaning = described(code)
    assert meaning.startswith(RETURN_CODES[code][1])
    assert ("not verified" in meaning) == (code not in VERIFIED_CODES)
