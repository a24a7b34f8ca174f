"""The ledger application on a real SQLite file and a real PostgreSQL server."""

import multiprocessing
import pickle
import sqlite3
import threading
import time
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError, StoredEvent
from sqlalchemy import text

from aggregates.errors import AmbiguousLearner, DuplicateLearner, LedgerError
from aggregates.learner import Context
from bench.run import write_export
from ledger.app import LedgerApp
from ledger.imports import ImportOptions, import_csv
from ledger.integrity.chain import content_hash
from ledger.integrity.chained_recorder import PackedEvents, content_hashes
from ledger.integrity.verify import verify_ledger
from ledger.reporting.rebuild import rebuild
from ledger.reporting.reports import TIMELINES_TABLE, open_view
from ledger.storage.persistence import (
    SQLITE_BULK_CACHE_KIB,
    SQLITE_BUSY_MS,
    SQLITE_CHECKPOINT_PAGES,
    checkpoint,
    create_tables_once,
)
from projections.audit import audit_rows
from tests.conftest import without_event_checks

CTX = Context(actor="officer", source="test")


def add(app, reference="L1", centre="C1", **overrides):
    values = {"given_name": "Ann", "family_name": "Lee", "date_of_birth": "2000-01-01",
              "gender": "2", "uln": "1000000043"}
    return app.add_learner(CTX, centre, reference, **{**values, **overrides})


def enrol(app, reference="L1", enrolment="E1", **overrides):
    values = {"awarding_body": "IMI", "qualification": "603/1234/5", "title": "Diploma",
              "start": "2026-09-01", "planned_end": "2027-07-01"}
    return app.enrol(CTX, reference, enrolment, **{**values, **overrides})


def event_count(app) -> int:
    with app.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()


def test_a_learners_history_is_stored_and_read_back_by_another_client(make_app):
    writer = make_app()
    add(writer)
    enrol(writer)
    writer.register(CTX, "L1", "E1", submitted="2026-09-20", confirmed="2026-09-22",
                    ao_ref="IMI-1")
    writer.withdraw(CTX, "L1", "E1", left="2026-10-01", reason="requested",
                    notified="2026-10-05")
    reader = make_app()
    learner = reader.find_learner("L1")
    assert learner.registration("E1")[0] == "confirmed"
    assert learner.latest("withdrawn", "E1").values["notified_on"] == date(2026, 10, 5)
    names = [row["event"] for row in audit_rows(reader.learner_events(learner.id))]
    assert names == ["Recorded", "Enrolled", "RegistrationSubmitted", "RegistrationConfirmed",
                     "Withdrawn"]


def test_the_same_learner_cannot_be_recorded_twice_at_a_centre(make_app):
    app = make_app()
    add(app)
    with pytest.raises(DuplicateLearner):
        add(app, given_name="Other")


def test_a_reference_used_at_two_centres_needs_the_centre(make_app):
    app = make_app()
    add(app, centre="C1")
    add(app, centre="C2", uln="")
    with pytest.raises(AmbiguousLearner, match="C1, C2"):
        app.find_learner("L1")
    assert app.find_learner("L1", "C2").centre == "C2"


@pytest.mark.parametrize("command", [
    lambda app: add(app, reference="L2", uln="1234567890"),
    lambda app: add(app, reference="L2", date_of_birth="2001-02-30"),
    lambda app: enrol(app, reference="NOBODY"),
    lambda app: enrol(app, start="2026-09-01", planned_end="2026-08-01"),
    lambda app: app.withdraw(CTX, "L1", "E1", left="2026-08-01", reason="left"),
    lambda app: app.withdraw(CTX, "L1", "E1", left="2026-10-01", reason="bored"),
    lambda app: app.submit_claim(CTX, "L1", "E404", "2026-10-01"),
    lambda app: app.record_uln(CTX, "L1", "9999999999"),
    lambda app: app.register(CTX, "L1", "E1", confirmed="2026-09-20", ao_ref="X"),
    lambda app: app.retract(CTX, 999, "typo"),
], ids=["bad-uln", "bad-dob", "unknown-learner", "end-before-start", "left-before-start",
        "bad-reason", "unknown-enrolment", "not-a-uln", "confirm-unsubmitted", "unknown-event"])
def test_bad_input_is_refused_and_the_ledger_is_unchanged(make_app, command):
    app = make_app()
    add(app)
    enrol(app, enrolment="E1")
    before = event_count(app)
    with pytest.raises(LedgerError):
        command(app)
    assert event_count(app) == before


def test_a_retraction_names_the_event_and_the_audit_shows_both(make_app):
    app = make_app()
    add(app)
    enrol(app)
    [position] = app.withdraw(CTX, "L1", "E1", left="2026-10-01", reason="left")
    [retraction] = app.retract(CTX, position, "wrong learner")
    learner = app.find_learner("L1")
    assert learner.latest("withdrawn", "E1") is None
    rows = {row["position"]: row for row in audit_rows(app.learner_events(learner.id))}
    assert rows[position]["status"] == f"retracted by {retraction}"
    assert rows[retraction]["changes"]["retracts"] == position
    assert rows[retraction]["changes"]["reason"] == "wrong learner"


def test_the_audit_as_at_a_moment_shows_only_what_was_recorded_by_then(make_app):
    app = make_app()
    add(app)
    enrol(app)
    learner = app.find_learner("L1")
    events = app.learner_events(learner.id)
    cut = events[0][1].timestamp
    assert [r["event"] for r in audit_rows(events, cut)] == ["Recorded"]
    assert audit_rows(events, datetime(2000, 1, 1, tzinfo=UTC)) == []


def test_a_driver_error_reading_rows_is_the_library_persistence_error(make_app):
    from eventsourcing.persistence import PersistenceError

    from ledger.storage.raw_rows import driver_rows

    app = make_app()
    assert driver_rows(app.engine, "SELECT count(*) FROM ledger_events") == [(0,)]
    with pytest.raises(PersistenceError, match="could not read the database"):
        driver_rows(app.engine, "SELECT * FROM no_such_table")  # the CLI: `Error: database:`


def test_stored_json_is_read_as_text_from_postgresql_whatever_the_environment_says(
        make_app, monkeypatch):
    from ledger.storage.raw_rows import json_text_column, raw_rows

    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")  # the ledger's connections are UTF-8
    app = without_event_checks(make_app())
    app.recorder.insert_events([StoredEvent(originator_id=uuid.uuid4(), originator_version=1,
                                            topic="t", state='{"title":"Cymraeg ŵ"}'.encode())])
    state = app.recorder.events_record_cls.__table__.c.state
    (value,), = raw_rows(app.engine, sqlalchemy.select(json_text_column(app.engine, state)))
    expected = '{"title":"Cymraeg ŵ"}'
    # PostgreSQL sends text (its `bytea` would come as hex); SQLite gives the stored bytes
    assert value == (expected if app.engine.dialect.name == "postgresql" else expected.encode())


@pytest.mark.postgres
def test_a_postgresql_database_not_in_utf8_is_refused_saying_how_to_make_one():
    from tests.conftest import fresh_postgres_url, postgres_server_url

    fresh_postgres_url()  # skips (or fails, in CI) without a server
    server = sqlalchemy.engine.make_url(postgres_server_url())
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    name = "ledger_test_sql_ascii"
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' "
                                "TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"))
    try:
        with pytest.raises(LedgerError, match="uses the SQL_ASCII encoding; the ledger needs "
                                              "UTF8 \\(CREATE DATABASE"):
            LedgerApp(server.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_a_sqlite_connection_storing_a_large_batch_gets_a_larger_page_cache(tmp_path):
    app = LedgerApp(f"sqlite:///{tmp_path / 'ledger.db'}")
    recorder = app.chained_recorder

    def cache_size(connection) -> int:  # in KiB when negative; SQLite's default is -2000
        return connection.exec_driver_sql("PRAGMA cache_size").scalar_one()

    def batch(size: int) -> PackedEvents:
        return recorder.pack([StoredEvent(originator_id=uuid.uuid4(), originator_version=1,
                                          topic="tests:Raw", state=b"{}") for _ in range(size)])

    with recorder.transaction(commit=True) as session:
        recorder.insert_packed(batch(recorder.CHUNK), session)  # a command's few events
        small = cache_size(session.connection())
        recorder.insert_packed(batch(recorder.CHUNK + 1), session)  # an import's batch
        large = cache_size(session.connection())
    with app.engine.connect() as first, app.engine.connect() as second:
        readers = {cache_size(first), cache_size(second)}
    assert (small, large) == (-2000, -SQLITE_BULK_CACHE_KIB)
    assert -2000 in readers  # a connection that stored no large batch keeps the default


def test_a_sqlite_ledger_waits_a_minute_for_another_writer(tmp_path):
    app = LedgerApp(f"sqlite:///{tmp_path / 'ledger.db'}")
    with app.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == SQLITE_BUSY_MS
        assert (connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
                == SQLITE_CHECKPOINT_PAGES)
    other = sqlite3.connect(tmp_path / "ledger.db", check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for longer than 5 s
    threading.Timer(5.5, other.rollback).start()
    started = time.monotonic()
    app.add_learner(Context(actor="clerk", source="test"), "C1", "L1", given_name="Zoë",
                    family_name="Jones", date_of_birth="2000-02-01", gender="2")
    assert time.monotonic() - started >= 5.5
    assert app.find_learner("L1").centre == "C1"


def test_content_hashes_given_for_other_events_than_stored_refuse_the_batch_whole(make_app):
    app = without_event_checks(make_app())
    events = [StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="tests:Raw",
                          state=b"{}") for _ in range(3)]
    with pytest.raises(ValueError):
        app.recorder.insert_events(events, content_hashes=content_hashes(events[:2]))
    assert app.recorder.select_notifications(1, 10) == []
    app.recorder.insert_events(events, content_hashes=content_hashes(events))
    assert len(app.recorder.select_notifications(1, 10)) == 3
    assert verify_ledger(app).ok


def events_in_the_database_file(path, table: str = "ledger_events") -> int:
    """Rows in the SQLite database file itself, leaving out what is only in its WAL."""
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        connection.close()


def test_checkpoint_copies_what_the_wal_holds_into_the_sqlite_database_file(tmp_path):
    path = tmp_path / "ledger.db"
    app = LedgerApp(f"sqlite:///{path}")
    for number in range(30):  # far fewer pages than an automatic checkpoint waits for
        add(app, f"L{number}")
    with app.engine.connect() as connection:
        events = connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()
    assert events >= 30
    assert events_in_the_database_file(path) < events
    checkpoint(app.engine)
    assert events_in_the_database_file(path) == events


def as_uuid(value) -> uuid.UUID:
    """An aggregate id as a column holds it: 16 bytes on SQLite, a UUID on PostgreSQL."""
    return uuid.UUID(bytes=bytes(value)) if isinstance(value, bytes | memoryview) else value


def stored_rows(app) -> list[tuple]:
    with app.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, originator_id, originator_version, topic, "
                                       "state FROM ledger_events ORDER BY id"))
        return [(row[0], as_uuid(row[1]), row[2], row[3], bytes(row[4])) for row in rows]


def test_packed_events_are_stored_as_they_were_given_and_the_chain_verifies(make_app):
    app = without_event_checks(make_app())
    recorder = app.chained_recorder
    first, other = uuid.uuid4(), uuid.uuid4()
    # runs of one id object, an id coming back after another, and an equal id object
    ids = [(first, 1), (first, 2), (other, 1), (first, 3), (uuid.UUID(str(first)), 4)]
    events = [StoredEvent(originator_id=originator, originator_version=version,
                          topic="tests:Raw\\tab", state=bytes([0, 9, 10, 13, 92, 255]) * version)
              for originator, version in ids]
    packed = pickle.loads(pickle.dumps(recorder.pack(events)))  # as it crosses processes
    assert isinstance(packed, PackedEvents) and len(packed) == 5
    assert packed.hashes == content_hashes(events) == [
        content_hash(e.originator_id, e.originator_version, e.topic, e.state) for e in events]
    assert recorder.insert_packed(packed) == [1, 2, 3, 4, 5]
    stored = stored_rows(app)
    assert stored == [(position, event.originator_id, event.originator_version, event.topic,
                       event.state) for position, event in enumerate(events, 1)]
    with pytest.raises(IntegrityError):  # the same versions again: refused whole
        recorder.insert_packed(recorder.pack(events[2:] + events[:1]))
    assert stored_rows(app) == stored
    assert verify_ledger(app).ok


def test_a_table_created_meanwhile_by_another_process_is_not_an_error(tmp_path):
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'race.db'}")
    table = sqlalchemy.Table("raced", sqlalchemy.MetaData(),
                             sqlalchemy.Column("id", sqlalchemy.Integer, primary_key=True))
    attempts = []

    def create():  # checks first, but another process creates the table just after the check
        attempts.append(len(attempts))
        if len(attempts) == 1:
            other = sqlite3.connect(tmp_path / "race.db")
            other.execute("CREATE TABLE raced (id INTEGER PRIMARY KEY)")
            other.close()
            table.create(engine, checkfirst=False)  # what the checked create does next
        table.create(engine, checkfirst=True)

    create_tables_once(create)
    assert attempts == [0, 1]
    with pytest.raises(sqlalchemy.exc.OperationalError, match="already exists"):
        create_tables_once(lambda: table.create(engine, checkfirst=False))  # it always is
    engine.dispose()


def _open_ledger(url: str, go) -> None:
    go.wait(timeout=60)
    app = LedgerApp(url)
    open_view(app)
    app.close()
    app.engine.dispose()


def test_ledger_processes_starting_at_once_on_a_new_sqlite_file_all_start(tmp_path):
    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        go = context.Event()
        starting = [context.Process(target=_open_ledger, args=(url, go)) for _ in range(4)]
        for process in starting:
            process.start()
        go.set()
        for process in starting:
            process.join(timeout=120)
        assert [process.exitcode for process in starting] == [0] * 4


def test_a_ledger_switching_a_new_sqlite_file_to_wal_while_another_process_writes_waits(
        tmp_path):
    # A new file is in rollback-journal mode. Switching it to WAL upgrades a read lock to a
    # write lock, and SQLite refuses that at once, without waiting, while another connection
    # writes: a ledger starting at that moment failed with "database is locked" (seen in CI).
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    switches = []

    def another_process_writes_now(_conn, _cursor, statement, *_args):
        if not statement.upper().startswith("PRAGMA JOURNAL_MODE=WAL"):
            return
        if not switches:
            other.execute("CREATE TABLE IF NOT EXISTS other_process (i INTEGER)")
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO other_process VALUES (1)")
            threading.Timer(0.5, other.commit).start()
        switches.append(statement)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute",
                            another_process_writes_now)
    try:
        app = LedgerApp(f"sqlite:///{path}")
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute",
                                another_process_writes_now)
    assert switches  # the timing above was exercised
    with app.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    assert verify_ledger(app).ok
    app.close()
    other.close()


def test_an_import_and_a_rebuild_leave_nothing_in_the_wal_for_the_next_writer(tmp_path):
    path = tmp_path / "ledger.db"
    app = LedgerApp(f"sqlite:///{path}")
    export = tmp_path / "export.csv"
    write_export(export, 20, "W", 3)
    summary = import_csv(app, export, ImportOptions(actor="importer", batch_size=7))
    with app.engine.connect() as connection:
        events = connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()
    assert events > summary.events > 20
    assert events_in_the_database_file(path) == events
    for workers in (1, 2):
        rebuilt = rebuild(app, open_view(app), workers=workers, page=50)
        assert rebuilt == summary.events
        assert events_in_the_database_file(path, TIMELINES_TABLE) == 20
