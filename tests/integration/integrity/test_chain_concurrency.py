"""Several processes appending at once leave one chain with no forks and no gaps."""

from __future__ import annotations

import multiprocessing
from typing import Any

from sqlalchemy import select

from ledger.integrity.verify import verify_ledger

WRITERS = 3
LEARNERS_EACH = 8


def _write(url: str, writer: int, go: Any) -> None:
    from aggregates.learner import Context
    from ledger.app import LedgerApp

    app = LedgerApp(url)
    go.wait(timeout=60)
    for number in range(LEARNERS_EACH):
        app.add_learner(Context(actor=f"writer{writer}", source="test"), "C1",
                        f"W{writer}N{number}", given_name="Ann", family_name="Lee",
                        date_of_birth="2000-01-01", gender="2")
    app.close()
    app.engine.dispose()


def test_concurrent_writer_processes_leave_a_chain_that_verifies(make_app, db_url):
    app = make_app()
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    writers = [context.Process(target=_write, args=(db_url, n, go)) for n in range(WRITERS)]
    for process in writers:
        process.start()
    go.set()
    for process in writers:
        process.join(timeout=120)
    assert [process.exitcode for process in writers] == [0] * WRITERS

    result = verify_ledger(app)
    assert result.ok, result.problem
    assert result.events == WRITERS * LEARNERS_EACH * 3
    hashes = app.recorder.hashes_table
    with app.engine.connect() as connection:
        seqs = connection.execute(select(hashes.c.seq).order_by(hashes.c.position)).scalars()
        assert list(seqs) == list(range(1, result.events + 1))


def test_two_ledgers_on_one_database_taking_turns_keep_one_chain(make_app):
    from aggregates.learner import Context

    first, second = make_app(), make_app()
    for number in range(4):
        for app, name in ((first, "A"), (second, "B")):
            app.add_learner(Context(actor=name, source="test"), "C1", f"{name}{number}",
                            given_name="Ann", family_name="Lee", date_of_birth="2000-01-01",
                            gender="2")
    for app in (first, second):
        result = verify_ledger(app)
        assert result.ok, result.problem
        assert result.events == 24
