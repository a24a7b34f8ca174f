"""Reading stored rows as the database driver returns them: no ORM objects, no type conversions.

For the hot loops (verify, report rebuilds): SQLAlchemy's per-row processing (UUID objects
above all) costs more than the work done with the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import OperationalError, StoredEvent

if TYPE_CHECKING:  # SQLAlchemy loads when a function here is called, not with `uuid_text`
    from sqlalchemy import ColumnElement, Select
    from sqlalchemy.engine import Engine

# PostgreSQL, for these scans of a window of positions: no JIT compilation (without fresh
# statistics a window looks costly enough to compile, 30 to 90 ms a query) and no parallel
# workers of its own (the scans run in one process per core already). For this transaction.
PLAIN_SCAN = "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0"


def placeholder(engine: Engine) -> str:
    """The driver's parameter marker in SQL written for it: `?` (sqlite3) or `%s` (psycopg2)."""
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def raw_rows(engine: Engine, query: Select[Any]) -> list[Any]:
    """The query's rows as plain driver tuples (a scan: see PLAIN_SCAN)."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    return driver_rows(engine, sql, scan=True)


def driver_rows(engine: Engine, sql: str, parameters: Sequence[Any] | None = None,
                scan: bool = False) -> list[Any]:
    """The rows of SQL in the driver's own dialect and parameters, as plain driver tuples.

    A driver error is raised as the library's OperationalError (as the recorder raises it),
    which the CLI reports as a database error, not a traceback."""
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        try:
            if scan and engine.dialect.name == "postgresql":
                cursor.execute(PLAIN_SCAN)
            if parameters is None:  # no placeholders: psycopg2 would read any % as one
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        except engine.dialect.dbapi.Error as error:  # type: ignore[union-attr]
            raise OperationalError(f"could not read the database: {error}") from error
        finally:
            cursor.close()


def aggregate_events(engine: Engine, table: str, originator_id: UUID,
                     ) -> list[tuple[int, StoredEvent]]:
    """One aggregate's stored events with their positions, in version order, read with
    SQL alone (no recorder, no ORM: what a read-only command needs)."""
    from sqlalchemy import text

    query = text(f"SELECT id, originator_version, topic, state FROM {table} "
                 "WHERE originator_id = :id ORDER BY originator_version")
    bound = originator_id.bytes if engine.dialect.name == "sqlite" else str(originator_id)
    with engine.connect() as connection:
        rows = connection.execute(query, {"id": bound}).all()
    return [(row[0], StoredEvent(originator_id=originator_id, originator_version=row[1],
                                 topic=row[2], state=bytes(row[3])))
            for row in rows]


def originator_column(engine: Engine, column: Any) -> ColumnElement[Any]:
    """An aggregate-id column to select for `uuid_text` (text on PostgreSQL, whose driver
    would otherwise build a UUID object per row)."""
    from sqlalchemy import String, cast

    if engine.dialect.name == "postgresql":
        return cast(column, String).label(column.key)
    return column


def json_text_column(engine: Engine, column: Any) -> ColumnElement[Any]:
    """A column of stored JSON bytes to select for reading as JSON: as text on PostgreSQL
    (a UTF-8 database on UTF-8 connections: `persistence.configure_postgres`), whose driver
    would otherwise receive a `bytea` as hex (twice the bytes) and build a memoryview per
    row (the rebuild's workers used 12% more CPU); as it is stored elsewhere. Bytes that are
    not UTF-8 are an error of the database, never skipped."""
    from sqlalchemy import func

    if engine.dialect.name == "postgresql":
        return func.convert_from(column, "UTF8").label(column.key)
    return column


@lru_cache(maxsize=4096)  # an aggregate's events come in runs: convert each id once
def uuid_text(value: Any) -> str:
    """The canonical text of a UUID as a driver returns it (16 bytes on SQLite)."""
    if isinstance(value, bytes):
        hexed = value.hex()
        return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"
    return str(value)


def originator_share(engine: Engine, column: Any, part: int, parts: int) -> ColumnElement[bool]:
    """A condition true for aggregate ids in one of `parts` equal shares of the id space.

    Shares are ranges of the ids' first byte (uuid5 ids spread evenly over them). The
    condition is on that byte, not on the id, so no planner answers it through the
    aggregate-id index (without statistics PostgreSQL did, scanning half the index for every
    window): it is a filter on the rows of the window of positions.
    """
    from sqlalchemy import and_, func, literal_column, true

    low, high = part * 256 // parts, (part + 1) * 256 // parts
    postgres = engine.dialect.name == "postgresql"
    first = (func.get_byte(func.uuid_send(column), 0) if postgres
             else func.substr(column, 1, 1))  # a 1-byte blob on SQLite

    def byte(value: int) -> ColumnElement[Any]:
        return literal_column(str(value) if postgres else f"X'{value:02x}'")

    conditions = [first >= byte(low)] if low else []
    if high < 256:
        conditions.append(first < byte(high))
    return and_(true(), *conditions)
