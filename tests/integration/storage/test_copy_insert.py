"""On PostgreSQL a large batch of events and its chain rows go in with COPY, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from sqlalchemy import func, select

from ledger.app import LedgerApp
from ledger.integrity.chained_recorder import ChainedApplicationRecorder
from ledger.integrity.verify import verify_ledger
from tests.conftest import fresh_postgres_url, without_event_checks

pytestmark = pytest.mark.postgres

BATCH = ChainedApplicationRecorder.CHUNK + 50  # more chain rows than one INSERT takes: COPY
NASTY = b"\t\n\r\\\x00\xff\xfe\\N\\x41\r\n\x80" + bytes(range(256))
TOPICS = ["tests.copy:Raw", "tests.copy:Tab\there", "tests.copy:Back\\slash\\N",
          "tests.copy:Siân\r\nO'Brien"]


@pytest.fixture
def app() -> Iterator[LedgerApp]:
    app = without_event_checks(LedgerApp(fresh_postgres_url()))
    assert app.engine.dialect.name == "postgresql"
    yield app
    app.close()
    app.engine.dispose()


def raw_events(count: int, originators: list[UUID], first_version: int = 1) -> list[StoredEvent]:
    """Events spread over the aggregates in turn, with every awkward byte in their states."""
    return [
        StoredEvent(
            originator_id=originators[n % len(originators)],
            originator_version=first_version + n // len(originators),
            topic=TOPICS[n % len(TOPICS)],
            state=f"{n}:".encode() + NASTY[n % len(NASTY):] + NASTY[:n % 7],
        )
        for n in range(count)
    ]


def rows(app: LedgerApp) -> tuple[int, int]:
    """How many events and chain rows are stored."""
    recorder = app.recorder
    assert isinstance(recorder, ChainedApplicationRecorder)
    with app.engine.connect() as connection:
        events = connection.execute(
            select(func.count()).select_from(recorder.events_record_cls)).scalar_one()
        links = connection.execute(
            select(func.count()).select_from(recorder.hashes_table)).scalar_one()
    return events, links


def stored(notification: StoredEvent) -> tuple[UUID, int, str, bytes]:
    return (UUID(str(notification.originator_id)), notification.originator_version,
            notification.topic, bytes(notification.state))


def test_a_batch_copied_in_comes_back_byte_for_byte_in_insertion_order_and_chained(app):
    originators = [uuid4() for _ in range(10)]
    events = raw_events(BATCH, originators)
    ids = app.recorder.insert_events(events)
    assert ids is not None and len(ids) == BATCH
    assert list(ids) == sorted(set(ids))

    notifications = app.recorder.select_notifications(start=1, limit=BATCH + 10)
    assert [n.id for n in notifications] == list(ids)
    assert [stored(n) for n in notifications] == [stored(e) for e in events]
    mine = [stored(e) for e in events if e.originator_id == originators[3]]
    assert [stored(e) for e in app.recorder.select_events(originators[3])] == mine
    assert rows(app) == (BATCH, BATCH)

    small = raw_events(5, originators, first_version=BATCH // 10 + 1)  # chained by INSERT
    app.recorder.insert_events(small)
    result = verify_ledger(app)
    assert result.ok, result.problem
    assert result.events == BATCH + 5 and result.head.position == max(ids) + 5


def test_a_copied_batch_that_clashes_with_a_stored_version_writes_nothing(app):
    taken = uuid4()
    app.recorder.insert_events([StoredEvent(originator_id=taken, originator_version=1,
                                            topic=TOPICS[0], state=NASTY)])
    before = rows(app)
    clash = StoredEvent(originator_id=taken, originator_version=1, topic=TOPICS[1],
                        state=b"again")
    batch = raw_events(BATCH // 2, [uuid4(), uuid4()])
    batch += [clash, *raw_events(BATCH // 2, [uuid4()])]
    with pytest.raises(IntegrityError):
        app.recorder.insert_events(batch)
    assert rows(app) == before == (1, 1)
    assert [bytes(e.state) for e in app.recorder.select_events(taken)] == [NASTY]

    later = raw_events(BATCH, [uuid4(), uuid4(), uuid4()])  # the recorder still chains on
    ids = app.recorder.insert_events(later)
    assert ids is not None and len(ids) == BATCH
    assert rows(app) == (BATCH + 1, BATCH + 1)
    result = verify_ledger(app)
    assert result.ok, result.problem
    assert result.events == BATCH + 1
