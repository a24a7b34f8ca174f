"""`insert_rows` stores rows exactly as SQLAlchemy's own insert does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import IntegrityError

from ledger.bulk_writes import insert_rows
from ledger.keys import learner_keys, metadata


def key_rows(count: int, erased: bool = False) -> list[dict]:
    moment = datetime(2026, 12, 1, 6, 30, 15, 123456, tzinfo=UTC)
    return [{"learner_id": str(uuid4()), "wrapped_key": bytes(range(n % 256, 256)) + b"\x00",
             "created_at": moment + timedelta(microseconds=n), "erased": erased}
            for n in range(count)]


def stored(engine, ids: list[str]) -> list[tuple]:
    with engine.connect() as connection:
        found = connection.execute(select(learner_keys).where(
            learner_keys.c.learner_id.in_(ids)).order_by(learner_keys.c.learner_id)).all()
    return [tuple(row) for row in found]


@pytest.fixture
def engine(db_url: str):
    engine = create_engine(db_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def twins(rows: list[dict]) -> list[dict]:
    """The same rows for other learners."""
    return [{**row, "learner_id": str(uuid4())} for row in rows]


def raw(engine, learner_id: str) -> tuple:
    """A row as the database holds it, with no type conversions."""
    with engine.connect() as connection:
        return tuple(connection.exec_driver_sql(
            f"SELECT wrapped_key, created_at, erased FROM {learner_keys.name} "
            f"WHERE learner_id = '{learner_id}'").one())


def test_rows_are_stored_and_read_back_as_the_same_rows_inserted_by_sqlalchemy(engine):
    ours = key_rows(30) + key_rows(3, erased=True)
    theirs = twins(ours)
    with engine.begin() as connection:
        insert_rows(connection, learner_keys, ours)
        connection.execute(learner_keys.insert(), theirs)
    for mine, twin in zip(ours, theirs, strict=True):
        (back_mine,) = stored(engine, [mine["learner_id"]])
        (back_twin,) = stored(engine, [twin["learner_id"]])
        assert back_mine[1:] == back_twin[1:]
        assert bytes(back_mine[1]) == mine["wrapped_key"] and back_mine[3] is mine["erased"]
        assert raw(engine, mine["learner_id"]) == raw(engine, twin["learner_id"])


def test_a_duplicate_key_refuses_the_whole_insert(engine):
    rows = key_rows(5)
    with engine.begin() as connection:
        insert_rows(connection, learner_keys, rows[:1])
    with pytest.raises(IntegrityError), engine.begin() as connection:
        insert_rows(connection, learner_keys, rows)
    assert len(stored(engine, [row["learner_id"] for row in rows])) == 1


def test_no_rows_is_nothing_to_do(engine):
    with engine.begin() as connection:
        insert_rows(connection, learner_keys, [])
