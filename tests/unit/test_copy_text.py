"""Values written with PostgreSQL's COPY keep every character, and None stays NULL."""

from ledger.bulk_writes import copy_text


def test_none_is_copys_null_marker():
    assert copy_text(None) == "\\N"


def test_backslashes_tabs_and_line_breaks_are_escaped_and_the_rest_left_alone():
    assert copy_text('{"t":"a\\"b"}') == '{"t":"a\\\\"b"}'
    assert copy_text("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert copy_text("Siân O'Brien") == "Siân O'Brien"
    assert copy_text(42) == "42"
