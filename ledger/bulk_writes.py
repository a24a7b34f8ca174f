"""Writing many rows at once the way each database does it fastest, and deleting them cheaply."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection
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


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows (dicts with the same keys) into a table, in the connection's transaction.

    On SQLite through the driver's executemany, each value converted by its column's type
    exactly as SQLAlchemy converts it: SQLAlchemy's executemany builds the parameters row by
    row at several times the cost of the insert (an import stores a key per new learner).
    Elsewhere SQLAlchemy's own executemany, which batches the rows into few statements.
    """
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(table.insert(), rows)
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    convert = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    values = [tuple(value if to is None else to(value)
                    for value, to in zip([row[name] for name in names], convert, strict=True))
              for row in rows]
    quote = dialect.identifier_preparer
    sql = (f"INSERT INTO {quote.format_table(table)} "
           f"({', '.join(quote.quote(name) for name in names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    connection.exec_driver_sql(sql, values)


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
