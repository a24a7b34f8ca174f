"""Values written with PostgreSQL's COPY keep every character, and None stays NULL."""

import re

from hypothesis import given
from hypothesis import strategies as st

from ledger.storage.bulk_writes import copy_buffer, copy_text


def test_none_is_copys_null_marker():
    assert copy_text(None) == "\\N"


def test_backslashes_tabs_and_line_breaks_are_escaped_and_the_rest_left_alone():
    assert copy_text('{"t":"a\\"b"}') == '{"t":"a\\\\"b"}'
    assert copy_text("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert copy_text("Siân O'Brien") == "Siân O'Brien"
    assert copy_text(42) == "42"


def test_bytes_become_bytea_hex_escaped_for_copy_text():
    assert copy_text(b"\x00\t\\") == "\\\\x00095c"
    assert copy_text(bytearray(b"\xff\n")) == "\\\\xff0a"
    assert copy_text(memoryview(b"\r")) == "\\\\x0d"
    assert copy_text(b"") == "\\\\x"


def test_copy_buffer_joins_a_rows_values_with_tabs_and_ends_each_line_with_a_newline():
    buffer = copy_buffer([(1, "a\tb", None, b"\x01"), ("Siân", 2, "", b"")])
    assert buffer.read().decode() == "1\ta\\tb\t\\N\t\\\\x01\nSiân\t2\t\t\\\\x\n"
    assert copy_buffer([]).read() == b""


_UNESCAPE = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def read_copy_text(field: str) -> str:
    """What PostgreSQL reads from a COPY text field: each backslash escape undone."""
    return re.sub(r"\\[\\tnr]", lambda match: _UNESCAPE[match.group()], field)


@given(st.text(alphabet=st.sampled_from(["a", "é", "\\", "\t", "\n", "\r", '"', "\u2028", "\x00"])
               | st.characters()))
def test_any_text_copied_reads_back_as_it_was_and_stays_on_one_field(value: str) -> None:
    field = copy_text(value)
    assert not {"\t", "\n", "\r"} & set(field)
    assert read_copy_text(field) == value
