"""Insiders with a login: what the database stamps, refuses, and what `verify` then names."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, update
from sqlalchemy.exc import DBAPIError

from cli.main import cli as main_cli
from ledger.app import LedgerApp
from ledger.integrity.verify import current_digest, verify_ledger
from ledger.privacy.roles import grant
from ledger.storage.persistence import EVENT_HASHES_TABLE, EVENTS_TABLE
from tests.conftest import TEST_SCHEMA, fresh_postgres_url
from tests.integration.integrity import tampering as t

OFFICER = f"{TEST_SCHEMA}_officer_user"
OTHER_OFFICER = f"{TEST_SCHEMA}_other_officer"


@pytest.fixture
def postgres_ledger():
    app = LedgerApp(fresh_postgres_url())
    t.record_small_ledger(app)
    grant(app.engine, "officer", OFFICER)
    grant(app.engine, "officer", OTHER_OFFICER)
    yield app
    app.close()
    app.engine.dispose()


def login_url(app: LedgerApp, name: str) -> str:
    url = app.url.replace("://postgres@", f"://{name}@")
    assert url != app.url
    return url


def run_as(app: LedgerApp, name: str, *statements: str) -> str:
    """The statements in one transaction as login NAME; 'committed' or the first error."""
    engine = create_engine(login_url(app, name))
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        return "committed"
    except DBAPIError as error:
        return str(error.orig).splitlines()[0]
    finally:
        engine.dispose()


def event_state(when: datetime, actor: str) -> str:
    """The JSON of a RegistrationSubmitted event as the ledger would store it."""
    return json.dumps({
        "timestamp": {"_type_": "datetime_iso", "_data_": when.isoformat()},
        "enrolment": "E1", "occurred_on": {"_type_": "date_iso", "_data_": "2025-09-10"},
        "actor": actor, "source": "cli", "note": None,
    }, separators=(",", ":"))


def insert_event(app: LedgerApp, when: datetime, actor: str) -> str:
    """A RegistrationSubmitted for L1 (its next version), as raw SQL."""
    learner = app.find_learner("L1")
    return (f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state) "
            f"VALUES ('{learner.id}', {learner.version + 1}, "
            "'aggregates.learner:Learner.RegistrationSubmitted', "
            f"convert_to('{event_state(when, actor)}', 'UTF8'))")


def chain_row(position: int) -> str:
    return (f"INSERT INTO {EVENT_HASHES_TABLE} (position, seq, content_hash, hash) "
            f"VALUES ({position}, {position}, '{'a' * 64}', '{'b' * 64}')")


@pytest.mark.postgres
def test_an_officer_cannot_forge_a_backdated_event_under_another_name(postgres_ledger):
    before = current_digest(postgres_ledger)
    backdated = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
    result = run_as(postgres_ledger, OFFICER, f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE",
                    insert_event(postgres_ledger, backdated, OTHER_OFFICER),
                    chain_row(11))
    assert "claims to be recorded at 2025-09-01" in result
    assert current_digest(postgres_ledger) == before
    assert verify_ledger(postgres_ledger).ok


@pytest.mark.postgres
def test_an_officer_cannot_write_a_chain_entry_of_their_own_making(postgres_ledger):
    assert "permission denied" in run_as(postgres_ledger, OFFICER, chain_row(11))
    assert "permission denied" in run_as(postgres_ledger, OFFICER,
                                         f"TRUNCATE {EVENT_HASHES_TABLE}")
    assert "must be owner" in run_as(
        postgres_ledger, OFFICER, f"ALTER TABLE {EVENTS_TABLE} DISABLE TRIGGER ALL")


@pytest.mark.postgres
def test_an_event_an_officer_inserts_by_hand_is_stamped_with_their_login_and_the_servers_time(
    postgres_ledger
):
    start = datetime.now(UTC)
    assert run_as(postgres_ledger, OFFICER, insert_event(
        postgres_ledger, datetime.now(UTC), OTHER_OFFICER)) == "committed"
    table = postgres_ledger.chained_recorder.hashes_table
    with postgres_ledger.engine.connect() as connection:
        stamp = connection.execute(select(table.c.recorded_by, table.c.recorded_at_us)
                                   .order_by(table.c.position.desc()).limit(1)).one()
    assert stamp.recorded_by == OFFICER  # the login, whatever the event's actor says
    recorded = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=stamp.recorded_at_us)
    assert start - timedelta(seconds=5) <= recorded <= datetime.now(UTC) + timedelta(seconds=5)
    assert verify_ledger(postgres_ledger).ok


@pytest.mark.postgres
@pytest.mark.parametrize("values", [
    "(gen_random_uuid(), 1, 'x', 'x')",
    "(gen_random_uuid(), 1, 'aggregates.learner:Learner.Recorded', 'x')",
    "(gen_random_uuid(), 1, 'aggregates.learner:Learner.Recorded', '\\x00')",
    "(gen_random_uuid(), 1, 'aggregates.learner:Learner.Recorded', convert_to('{}', 'UTF8'))",
], ids=["bad-topic", "not-json", "not-utf8", "no-recorded-time"])
def test_an_officer_cannot_poison_the_ledger_with_a_raw_insert(postgres_ledger, values):
    result = run_as(postgres_ledger, OFFICER, f"INSERT INTO {EVENTS_TABLE} "
                    f"(originator_id, originator_version, topic, state) VALUES {values}")
    assert result.startswith("ledger events only"), result
    assert verify_ledger(postgres_ledger).events == 10
    assert verify_ledger(postgres_ledger).ok


@pytest.mark.postgres
def test_officers_writing_at_once_are_stamped_in_chain_order(postgres_ledger):
    officer = LedgerApp(login_url(postgres_ledger, OFFICER))
    other = LedgerApp(login_url(postgres_ledger, OTHER_OFFICER))
    try:
        for number in range(6):
            app = officer if number % 2 else other
            app.add_learner(t.CTX, "C1", f"N{number}", given_name="Ann", family_name="Lee",
                            date_of_birth="2000-01-01", gender="2")
    finally:
        for app in (officer, other):
            app.close()
            app.engine.dispose()
    table = postgres_ledger.chained_recorder.hashes_table
    with postgres_ledger.engine.connect() as connection:
        rows = connection.execute(select(table.c.recorded_by, table.c.recorded_at_us)
                                  .order_by(table.c.seq)).all()
    assert {row.recorded_by for row in rows[10:]} == {OFFICER, OTHER_OFFICER}
    times = [row.recorded_at_us for row in rows]
    assert times == sorted(times)
    assert verify_ledger(postgres_ledger).ok


def test_an_sqlite_ledger_stamps_the_os_user(make_app):
    app = make_app()
    if app.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stamps the login: the tests above")
    t.record_small_ledger(app)
    table = app.chained_recorder.hashes_table
    with app.engine.connect() as connection:
        logins = connection.execute(select(table.c.recorded_by).distinct()).scalars().all()
    assert logins == [getpass.getuser()]


def edit_stamp(app, connection, position: int, **values) -> None:
    table = app.chained_recorder.hashes_table
    connection.execute(update(table).where(table.c.position == position).values(**values))
    t.rechain(app, connection)


def test_a_recorded_time_going_backwards_fails_verify_naming_the_event(make_app):
    app = make_app()
    t.record_small_ledger(app)
    with app.engine.begin() as connection:
        t.drop_triggers(connection)
        edit_stamp(app, connection, 7, recorded_at_us=1_700_000_000_000_000)
    for workers in (1, 3):
        result = verify_ledger(app, workers=workers, page=2)
        assert result.problem is not None
        assert (result.problem.position, result.problem.kind) == (7, "backdated")
        assert "2023-11-14T22:13:20+00:00" in result.problem.message


def test_an_unstamped_entry_after_stamped_ones_fails_verify(make_app):
    app = make_app()
    t.record_small_ledger(app)
    with app.engine.begin() as connection:
        t.drop_triggers(connection)
        edit_stamp(app, connection, 9, recorded_by=None, recorded_at_us=None)
    result = verify_ledger(app)
    assert result.problem is not None
    assert (result.problem.position, result.problem.kind) == (9, "unstamped")


def test_a_stamp_changed_without_rechaining_fails_verify(make_app):
    app = make_app()
    t.record_small_ledger(app)
    table = app.chained_recorder.hashes_table
    with app.engine.begin() as connection:
        t.drop_triggers(connection)
        connection.execute(update(table).where(table.c.position == 5)
                           .values(recorded_by=f"someone-else-{uuid4().hex[:6]}"))
    result = verify_ledger(app)
    assert result.problem is not None
    assert (result.problem.position, result.problem.kind) == (5, "changed")


def cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(main_cli, ["--db", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_audit_and_replay_show_the_login_beside_the_actor_name(db_url):
    if db_url.startswith("postgresql"):
        owner = LedgerApp(db_url)
        grant(owner.engine, "officer", OFFICER)
        owner.close()
        owner.engine.dispose()
        recording_url, login = login_url(owner, OFFICER), OFFICER
    else:
        recording_url, login = db_url, getpass.getuser()
    cli(recording_url, "--actor", "Someone Else", "learner", "add", "L1", "--centre", "C1",
        "--given-name", "Ann", "--family-name", "Lee", "--dob", "2000-01-01", "--gender", "2")
    audit = json.loads(cli(db_url, "audit", "L1", "--format", "json"))
    assert [(row["actor"], row["login"]) for row in audit["events"]] == [
        ("Someone Else", login)]
    stamped = datetime.fromisoformat(audit["events"][0]["stamped_at"])
    assert abs(stamped - datetime.fromisoformat(audit["events"][0]["recorded"])) < timedelta(
        minutes=1)
    replayed = json.loads(cli(db_url, "replay", "--format", "json"))
    assert [(step["actor"], step["login"]) for step in replayed["steps"]] == [
        ("Someone Else", login)]
    table = cli(db_url, "audit", "L1")
    assert "Someone Else" in table and login in table


def test_a_ledger_chained_before_stamps_still_verifies_and_grows_stamped(make_app):
    app = make_app()
    t.record_small_ledger(app)
    with app.engine.begin() as connection:  # as an earlier version left it: version 1 links
        t.drop_triggers(connection)
        table = app.chained_recorder.hashes_table
        connection.execute(update(table).values(recorded_by=None, recorded_at_us=None))
        t.rechain(app, connection)
    assert verify_ledger(app).ok and verify_ledger(app).events == 10
    app.add_learner(t.CTX, "C1", "L9", given_name="Ann", family_name="Lee",
                    date_of_birth="2000-01-01", gender="2")
    with app.engine.connect() as connection:
        stamped = connection.execute(select(table.c.recorded_by.is_not(None))
                                     .order_by(table.c.seq)).scalars().all()
    assert stamped == [False] * 10 + [True] * 3
    for workers in (1, 3):
        result = verify_ledger(app, workers=workers, page=2)
        assert result.ok and result.events == 13
