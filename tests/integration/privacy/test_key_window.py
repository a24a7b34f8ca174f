"""Keys held for a window of learners (`hold_only`): a long reader keeps only those keys,
and a learner whose key was let go reads the same again; on both databases, through the
application's key store and the read-only reader."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from aggregates.learner import Context, learner_id
from ledger.app import LedgerApp
from ledger.reader import LedgerReader

CTX = Context("officer", "test")


def three_learners(app: LedgerApp) -> list[UUID]:
    for n in range(3):
        app.add_learner(CTX, "C1", f"K{n}", given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
    return [learner_id("C1", f"K{n}") for n in range(3)]


def test_a_key_window_keeps_only_its_learners_and_reads_the_same(
    make_app: Callable[[], LedgerApp], db_url: str,
) -> None:
    app = make_app()
    learners = three_learners(app)
    for keys in (make_app().keys, LedgerReader(db_url).keys):
        first = {learner: keys.key_for_reading(learner) for learner in learners}
        assert all(isinstance(key, bytes) for key in first.values())
        keys.hold_only({learners[0]})
        assert set(keys._keys) == {learners[0]}  # the others' keys let go
        keys.hold_only({learners[1], learners[2]})
        assert set(keys._keys) == set()
        assert {learner: keys.key_for_reading(learner) for learner in learners} == first
