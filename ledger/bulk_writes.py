"""Writing many rows at once the way each database does it fastest, and deleting them cheaply."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.orm import Session


def copy_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: rows into a table with COPY, on the session's connection and transaction."""
    names = [column.name for column in table.columns]
    buffer = copy_buffer([row[name] for name in names] for row in rows)
    quote = session.get_bind().dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in names)
    cursor = session.connection().connection.cursor()
    try:
        cursor.copy_expert(f"COPY {quote.format_table(table)} ({columns}) FROM STDIN", buffer)
    finally:
        cursor.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_buffer(rows: Iterable[Sequence[Any]]) -> io.StringIO:
    """Rows in COPY's text format, to read from."""
    return io.StringIO("".join("\t".join([copy_text(value) for value in row]) + "\n"
                               for row in rows))


def copy_text(value: Any) -> str:
    """A value in COPY's text format: NULL as \\N, bytes as bytea hex, backslashes and line
    breaks escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\\\x" + bytes(value).hex()
    text = str(value)
    return text.translate(_COPY_ESCAPES) if "\\" in text or not text.isprintable() else text


@contextmanager
def deletes_without_zeroing(session: Session) -> Iterator[None]:
    """Deletes that do not zero the freed bytes, for tables with no personal data (the report
    timelines). SQLite's `secure_delete`, on by default in many builds, rewrites every freed
    page: emptying a large table would write it all again. The setting is put back after."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    before = int(session.execute(text("PRAGMA secure_delete")).scalar_one())
    session.execute(text("PRAGMA secure_delete = FAST"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA secure_delete = {before}"))
