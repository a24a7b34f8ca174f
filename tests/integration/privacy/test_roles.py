"""Database roles on PostgreSQL: what officers, auditors and EQA can and cannot do."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from aggregates.errors import ConfigurationError, InvalidValue, LedgerError
from aggregates.learner import Context
from ledger.app import LedgerApp
from ledger.privacy.erasure import erase_learner
from ledger.privacy.roles import grant
from tests.conftest import TEST_SCHEMA, fresh_postgres_url

CTX = Context(actor="officer", source="test")
NAMES = {role: f"{TEST_SCHEMA}_{role}_user" for role in ("officer", "eqa", "auditor")}


@pytest.fixture
def ledger_app():
    app = LedgerApp(fresh_postgres_url())
    app.add_learner(CTX, "C1", "L1", given_name="Siân", family_name="Quillfeather",
                    date_of_birth="2004-05-06", gender="2", postcode="SW1A 1AA",
                    email="sian.q@example.org", uln="1000000043")
    app.enrol(CTX, "L1", "E1", awarding_body="IMI", qualification="603/1234/5",
              title="Diploma", start="2023-09-01", planned_end="2024-07-01")
    for role, name in NAMES.items():
        grant(app.engine, role, name)
    yield app
    app.close()
    app.engine.dispose()


def as_role(app, name, statement):
    """Run one statement as role NAME (SET ROLE), rolled back; returns rows or the error."""
    engine = create_engine(app.url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'SET ROLE "{name}"'))
            try:
                result = connection.execute(text(statement))
                return result.all() if result.returns_rows else result.rowcount
            except DBAPIError as error:
                return str(error.orig).splitlines()[0]
            finally:
                connection.rollback()
    finally:
        engine.dispose()


INSERT = ("INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
          "VALUES ('00000000-0000-0000-0000-000000000001', 1, 'aggregates.learner:Learner.X', "
          "convert_to('{\"timestamp\":{\"_type_\":\"datetime_iso\",\"_data_\":\"' "
          "|| now()::text || '\"}}', 'UTF8'))")
UPDATE = "UPDATE ledger_events SET topic = 'x'"
DELETE = "DELETE FROM ledger_events"


@pytest.mark.postgres
def test_eqa_reads_sealed_events_but_cannot_insert_update_delete_or_read_keys(ledger_app):
    eqa = NAMES["eqa"]
    assert len(as_role(ledger_app, eqa, "SELECT id FROM ledger_events")) == 4
    for statement in (INSERT, UPDATE, DELETE, "SELECT * FROM ledger_learner_keys",
                      "SELECT * FROM ledger_master_key_check", "TRUNCATE ledger_events"):
        assert "permission denied" in as_role(ledger_app, eqa, statement), statement


@pytest.mark.postgres
def test_eqa_views_hold_the_plain_facts_and_no_personal_field(ledger_app):
    eqa = NAMES["eqa"]
    rows = as_role(ledger_app, eqa, "SELECT event, facts::text FROM ledger_eqa_events "
                                    "ORDER BY position")
    assert [event for event, _ in rows] == ["Recorded", "Enrolled"]
    everything = " ".join(facts for _, facts in rows)
    assert "603/1234/5" in everything and "2023-09-01" in everything
    for value in ("Siân", "Si\\u00e2n", "Quillfeather", "2004-05-06", "SW1A", "sian.q",
                  "1000000043", "_sealed"):
        assert value not in everything
    assert as_role(ledger_app, eqa, "SELECT centre, reference FROM ledger_eqa_learners") == [
        ("C1", "L1")
    ]


@pytest.mark.postgres
def test_auditors_read_events_but_change_nothing_and_see_no_keys(ledger_app):
    auditor = NAMES["auditor"]
    assert len(as_role(ledger_app, auditor, "SELECT id FROM ledger_events")) == 4
    for statement in (INSERT, UPDATE, DELETE, "SELECT * FROM ledger_learner_keys"):
        assert "permission denied" in as_role(ledger_app, auditor, statement), statement


@pytest.mark.postgres
def test_officers_append_and_read_but_cannot_alter_or_delete_events(ledger_app):
    officer = NAMES["officer"]
    assert as_role(ledger_app, officer, INSERT) == 1
    assert "append-only" in as_role(ledger_app, officer, UPDATE)
    assert "permission denied" in as_role(ledger_app, officer, DELETE)
    assert "permission denied" in as_role(ledger_app, officer, "UPDATE ledger_learner_keys "
                                                               "SET erased = true")
    assert "must be owner" in as_role(ledger_app, officer,
                                      "ALTER TABLE ledger_events DISABLE TRIGGER ALL")


@pytest.mark.postgres
def test_granting_another_role_replaces_the_previous_one(ledger_app):
    name = NAMES["eqa"]
    assert grant(ledger_app.engine, "auditor", name) == (
        f"{name} is now a ledger auditor (ledger_auditor)"
    )
    assert len(as_role(ledger_app, name, "SELECT id FROM ledger_events")) == 4
    grant(ledger_app.engine, "eqa", name)
    assert as_role(ledger_app, name, "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g "
                   f"ON g.oid = m.roleid WHERE m.member = to_regrole('{name}')") == [
        ("ledger_eqa",)]


@pytest.mark.postgres
def test_role_names_are_checked_before_any_sql(ledger_app):
    with pytest.raises(InvalidValue, match="is not a role name"):
        grant(ledger_app.engine, "eqa", 'x"; DROP TABLE ledger_events; --')


def test_roles_need_postgresql(tmp_path):
    app = LedgerApp(f"sqlite:///{tmp_path / 'ledger.db'}")
    with pytest.raises(ConfigurationError, match="roles need PostgreSQL"):
        grant(app.engine, "eqa", "someone")
    app.close()


@pytest.mark.postgres
def test_an_officer_runs_the_ledger_to_record_learners_but_cannot_erase(ledger_app):
    url = ledger_app.url.replace("://postgres@", f"://{NAMES['officer']}@")
    assert url != ledger_app.url
    officer = LedgerApp(url)
    try:
        assert officer.add_learner(CTX, "C1", "L2", given_name="Bob", family_name="Lee",
                                   date_of_birth="2000-01-01", gender="1") == [5]
        assert officer.find_learner("L2").details["given_name"] == "Bob"
        with pytest.raises(LedgerError, match="run it as the ledger's owner"):
            erase_learner(officer, CTX, "L2", "learner request")
        assert officer.find_learner("L2").latest("erased") is None
    finally:
        officer.close()
        officer.engine.dispose()
