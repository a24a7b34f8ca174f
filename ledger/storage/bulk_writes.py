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


def copy_buffer(rows: Iterable[Sequence[Any]]) -> io.BytesIO:
    """Rows in COPY's text format, to read from."""
    return copy_stream("\t".join([copy_text(value) for value in row]) + "\n" for row in rows)


def copy_stream(lines: Iterable[str]) -> io.BytesIO:
    """COPY text lines as UTF-8 bytes to read from (the connections' encoding:
    `persistence.configure_postgres`). Not a StringIO: it stores four bytes a character, and
    the driver would encode every chunk it reads; making and reading one took a third of a
    large rebuild's writing process."""
    return io.BytesIO("".join(lines).encode())


def copy_text(value: Any) -> str:
    """A value in COPY's text format: NULL as \\N, bytes as bytea hex, backslashes and line
    breaks escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\\\x" + bytes(value).hex()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        # the backslashes first, so the escapes added after are not escaped again; chained
        # replaces, each a pass in C: str.translate took 30 times as long on a timeline's JSON
        return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


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
