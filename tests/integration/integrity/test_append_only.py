"""The events table refuses UPDATE and DELETE in the database itself, on both backends."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aggregates.learner import Context

CTX = Context(actor="tester", source="test")


def record_one_learner(app) -> None:
    app.add_learner(CTX, "C1", "L1", given_name="Ann", family_name="Lee",
                    date_of_birth="2000-01-01", gender="2")


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_events SET topic = 'forged'",
    "DELETE FROM ledger_events",
])
def test_a_raw_update_or_delete_on_stored_events_is_refused(make_app, statement):
    app = make_app()
    record_one_learner(app)
    with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as connection:
        connection.execute(text(statement))
    with app.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one() == 3


def test_triggers_install_idempotently_when_the_ledger_is_opened_again(make_app):
    record_one_learner(make_app())
    again = make_app()
    assert again.find_learner("L1").details["given_name"] == "Ann"
