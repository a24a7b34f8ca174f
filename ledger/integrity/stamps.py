"""The chain's stamps read back: who recorded each event (the login) and when, as stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # SQLAlchemy loads with `stamps_in`, not with `Stamp` and `stamp_time`
    from sqlalchemy.engine import Engine

QUERY_POSITIONS = 5_000  # positions per query
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Stamp(NamedTuple):
    """The login that recorded an event and the time the chain took it (None: unstamped)."""

    login: str | None
    at: datetime | None


UNSTAMPED = Stamp(None, None)


def stamp_time(recorded_at_us: int | None) -> datetime | None:
    """A stamp's time from its microseconds since 1970 UTC."""
    return None if recorded_at_us is None else EPOCH + timedelta(microseconds=recorded_at_us)


def stamps_of(app: Any, positions: Iterable[int]) -> dict[int, Stamp]:
    """The stamps of the chain entries at these positions (unstamped ones left out)."""
    from ledger.integrity.verify import chained_recorder  # loads the recorder's libraries

    hashes = chained_recorder(app).hashes_table
    return stamps_in(app.engine, hashes.name, positions, hashes.schema)


def stamps_in(engine: Engine, hashes_table: str, positions: Iterable[int],
              schema: str | None = None) -> dict[int, Stamp]:
    """`stamps_of` read from the chain table by its name, without the recorder (for a
    read-only command, which never loads it)."""
    from sqlalchemy import column, select, table

    hashes = table(hashes_table, column("position"), column("recorded_by"),
                   column("recorded_at_us"), schema=schema)
    wanted = sorted(set(positions))
    found: dict[int, Stamp] = {}
    with engine.connect() as connection:
        for start in range(0, len(wanted), QUERY_POSITIONS):
            chunk = wanted[start:start + QUERY_POSITIONS]
            rows = connection.execute(
                select(hashes.c.position, hashes.c.recorded_by, hashes.c.recorded_at_us)
                .where(hashes.c.position.in_(chunk), hashes.c.recorded_at_us.is_not(None)))
            found.update({row.position: Stamp(row.recorded_by, stamp_time(row.recorded_at_us))
                          for row in rows})
    return found
