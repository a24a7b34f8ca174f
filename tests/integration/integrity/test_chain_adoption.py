"""A ledger recorded before the hash chain existed is chained when first opened, then extended."""

from __future__ import annotations

from datetime import date

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from aggregates.learner import Context, Learner
from ledger.integrity.verify import verify_ledger
from ledger.storage.persistence import application_env
from ledger.storage.transcoding import DateAsISO
from tests.integration.integrity.tampering import CTX


class UnchainedLedger(Application):
    """The ledger as stored by the library's plain recorder."""

    name = "Ledger"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def test_an_unchained_ledger_is_chained_on_first_open_and_then_extended(db_url, make_app):
    old = UnchainedLedger(env={**application_env(db_url),
                               "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy"})
    details = {"given_name": "Ann", "family_name": "Lee", "date_of_birth": date(2000, 1, 1),
               "gender": "2"}
    for reference in ("L1", "L2"):
        old.save(Learner.record("C1", reference, details, None, [], date(2025, 9, 1),
                                Context(actor="old", source="test")))
    old.close()
    old.recorder.datastore.engine.dispose()

    app = make_app()
    assert verify_ledger(app).events == 2
    app.enrol(CTX, "L1", "E1", awarding_body="CG", qualification="600/1234/5", title="T",
              start="2025-09-01", planned_end="2026-07-01", centre="C1")
    again = make_app()
    result = verify_ledger(again)
    assert result.ok and result.events == 3


def test_an_emptied_chain_table_is_not_rebuilt_on_open_but_reported(db_url, make_app):
    from tests.integration.integrity import tampering as t

    app = make_app()
    t.record_small_ledger(app)
    with app.engine.begin() as connection:
        t.drop_triggers(connection)
        connection.execute(t.text(f"DELETE FROM {t.EVENT_HASHES_TABLE}"))
    problem = verify_ledger(make_app()).problem
    assert problem is not None
    assert (problem.position, problem.kind) == (1, "inserted")
