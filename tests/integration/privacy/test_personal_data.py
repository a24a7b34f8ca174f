"""Personal data sealed per learner, crypto-shredded on erasure: SQLite file and PostgreSQL."""

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from aggregates.errors import ImpossibleCommand, LedgerError
from aggregates.learner import Context
from ledger.privacy.crypto import KeyUnavailable, LearnerErased, WrongMasterKey, encode_key, new_key
from ledger.privacy.erasure import erase_learner
from ledger.privacy.sealing import holds_encrypted, why_encrypted
from ledger.reporting.reports import current_timelines
from projections.audit import audit_rows
from tests.conftest import TEST_SCHEMA

CTX = Context(actor="officer", source="test", note="phoned Siân at home")
PERSONAL = {"given_name": "Siân", "family_name": "Quillfeather", "date_of_birth": "2004-05-06",
            "postcode": "SW1A 1AA", "email": "sian.q@example.org", "uln": "1000000043"}
SECRETS = [*PERSONAL.values(), "phoned Siân at home", "sian.new@example.org"]


def add(app, reference="L1"):
    return app.add_learner(CTX, "C1", reference, gender="2", **PERSONAL)


def history(app, reference="L1"):
    """A learner with an enrolment, an amended email and a withdrawal."""
    add(app, reference)
    app.enrol(CTX, reference, "E1", awarding_body="IMI", qualification="603/1234/5",
              title="Diploma", start="2023-09-01", planned_end="2024-07-01")
    app.amend(CTX, reference, {"email": "sian.new@example.org"}, "new address")
    app.withdraw(CTX, reference, "E1", left="2023-10-02", reason="requested")


def variants(value: str) -> list[bytes]:
    """The ways a value could sit in stored bytes: UTF-8, JSON-escaped, either case, as hex
    (pg_dump writes bytea columns in hex)."""
    forms = {value, value.upper(), value.lower(), json.dumps(value)[1:-1]}
    return [f.encode() for f in forms] + [f.encode().hex().encode() for f in forms]


def database_bytes(app) -> bytes:
    """Every byte the database holds: the SQLite file and its WAL, or a pg_dump of the schema."""
    if app.engine.dialect.name == "sqlite":
        path = Path(app.engine.url.database)
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    url = make_url(app.url)
    environment = {**os.environ, "PGPASSWORD": url.password or ""}
    return subprocess.run(
        ["pg_dump", "-h", url.host, "-p", str(url.port or 5432), "-U", url.username,
         "-d", url.database, "-n", TEST_SCHEMA],
        capture_output=True, check=True, env=environment,
    ).stdout


def found(app, values) -> list[str]:
    data = database_bytes(app)
    return [v for v in values if any(form in data for form in variants(v))]


def stored_rows(app) -> list[tuple]:
    with app.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, state FROM ledger_events ORDER BY id")).all()
    return [(row.id, bytes(row.state)) for row in rows]


def wrapped_key(app, learner_id) -> bytes:
    with app.engine.connect() as connection:
        return bytes(connection.execute(
            text("SELECT wrapped_key FROM ledger_learner_keys WHERE learner_id = :id"),
            {"id": str(learner_id)},
        ).scalar_one())


def changes(app, reference="L1"):
    learner = app.find_learner(reference)
    return [row["changes"] for row in audit_rows(app.learner_events(learner.id))]


def test_personal_values_are_never_stored_in_plain_text(make_app):
    app = make_app()
    history(app)
    assert found(app, SECRETS) == []
    assert found(app, ["IMI", "603/1234/5", "2023-10-02", "requested"]) == [
        "IMI", "603/1234/5", "2023-10-02", "requested"
    ]


def test_with_the_master_key_another_client_reads_the_personal_details(make_app):
    history(make_app())
    learner = make_app().find_learner("L1")
    assert learner.details["given_name"] == "Siân"
    assert learner.details["email"] == "sian.new@example.org"
    assert learner.detail("date_of_birth").isoformat() == "2004-05-06"
    assert learner.uln == "1000000043"


def test_without_a_master_key_personal_fields_read_encrypted_and_facts_stay(
    make_app, monkeypatch
):
    history(make_app())
    monkeypatch.delenv("LEDGER_MASTER_KEY")
    reader = make_app()
    recorded, enrolled, amended, withdrawn = changes(reader)
    assert set(recorded["details"].values()) == {"[encrypted]"}
    assert recorded["uln"] == "[encrypted]"
    assert (amended["field"], amended["old"], amended["new"]) == (
        "email", "[encrypted]", "[encrypted]"
    )
    assert enrolled["programme_start"].isoformat() == "2023-09-01"
    assert withdrawn["left_on"].isoformat() == "2023-10-02"
    with pytest.raises(KeyUnavailable, match="no master key is configured"):
        reader.enrol(CTX, "L1", "E2", awarding_body="IMI", qualification="603/1234/5",
                     title="Diploma", start="2023-09-01", planned_end="2024-07-01")


def test_a_wrong_master_key_reads_encrypted_and_refuses_to_record(make_app, monkeypatch):
    history(make_app())
    monkeypatch.setenv("LEDGER_MASTER_KEY", encode_key(new_key()))
    reader = make_app()
    assert changes(reader)[0]["details"]["family_name"] == "[encrypted]"
    with pytest.raises(KeyUnavailable, match="is not this ledger's master key"):
        reader.withdraw(CTX, "L1", "E1", notified="2023-10-05")
    with pytest.raises(WrongMasterKey, match="not this ledger's master key"):
        add(reader, "L2")


def test_a_malformed_master_key_is_a_clear_error(make_app, monkeypatch):
    history(make_app())
    monkeypatch.setenv("LEDGER_MASTER_KEY", "not-a-key")
    with pytest.raises(LedgerError, match="LEDGER_MASTER_KEY is not a base64 32-byte key"):
        make_app().find_learner("L1")


def test_erasure_destroys_the_key_and_keeps_every_stored_event_and_date(make_app):
    app = make_app()
    history(app)
    before = stored_rows(app)
    positions = erase_learner(app, Context("dpo", "test"), "L1", "learner request")
    after = stored_rows(make_app())
    assert after[: len(before)] == before
    assert [p for p, _ in after[len(before):]] == positions
    reader = make_app()
    recorded, enrolled, amended, withdrawn, erased = changes(reader)
    assert enrolled["qualification"] == "603/1234/5"
    assert set(recorded["details"].values()) == {"[erased]"}
    assert amended["new"] == "[erased]"
    assert withdrawn["left_on"].isoformat() == "2023-10-02"
    assert erased == {"reason": "learner request"}
    with pytest.raises(LearnerErased, match="was erased on"):
        reader.withdraw(CTX, "L1", "E1", notified="2023-10-05")
    with pytest.raises(ImpossibleCommand, match="already erased"):
        erase_learner(reader, Context("dpo", "test"), "L1", "again")


def test_after_erasure_no_byte_of_the_database_holds_the_learners_personal_data(make_app):
    app = make_app()
    history(app)
    history(app, "L2")
    current_timelines(app)  # the reports' materialised tables hold no personal data either
    key = wrapped_key(app, app.find_learner("L1").id)
    assert found(app, [key.hex()]) or key in database_bytes(app)
    erase_learner(app, Context("dpo", "test"), "L1", "retention ended")
    data = database_bytes(app)
    assert key not in data and key.hex().encode() not in data
    assert base64.b64encode(key) not in data
    assert found(app, SECRETS) == []
    assert make_app().find_learner("L2").details["given_name"] == "Siân"


def test_a_key_restored_from_a_backup_is_destroyed_again_by_erasing_again(make_app):
    app = make_app()
    history(app)
    learner_id = app.find_learner("L1").id
    key = wrapped_key(app, learner_id)
    erase_learner(app, Context("dpo", "test"), "L1", "learner request")
    with app.engine.begin() as connection:
        connection.execute(
            text("UPDATE ledger_learner_keys SET wrapped_key = :key, erased = :no "
                 "WHERE learner_id = :id"), {"key": key, "no": False, "id": str(learner_id)},
        )
    assert make_app().find_learner("L1").details["given_name"] == "Siân"
    assert erase_learner(make_app(), Context("dpo", "test"), "L1", "again") == []
    assert make_app().find_learner("L1").details["given_name"] == "[erased]"


def test_altered_ciphertext_reads_as_encrypted_never_as_text(make_app):
    app = make_app()
    add(app)
    if app.engine.dialect.name != "sqlite":
        pytest.skip("altering a row needs the SQLite triggers dropped; one backend suffices")
    (position, state), *_ = stored_rows(app)
    document = json.loads(state)
    data = bytearray(base64.b64decode(document["_sealed"]["data"]))
    data[-1] ^= 1
    document["_sealed"]["data"] = base64.b64encode(bytes(data)).decode()
    with app.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER ledger_events_no_update"))
        connection.execute(text("UPDATE ledger_events SET state = :state WHERE id = :id"),
                           {"state": json.dumps(document).encode(), "id": position})
    reader = make_app()
    details = reader.find_learner("L1").details
    assert set(details.values()) == {"[encrypted]"}
    assert holds_encrypted(details)
    assert why_encrypted(reader.keys).startswith("the learner's key or ciphertext does not open")
