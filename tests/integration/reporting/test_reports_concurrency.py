"""Two processes catching up at once still give exactly what a rebuild gives."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

from aggregates.learner import Context
from ledger.app import LedgerApp
from ledger.reporting.rebuild import rebuild
from ledger.reporting.reports import catch_up, open_view

CTX = Context(actor="concurrency", source="test")


def _catch_up_in_small_pages(url: str) -> None:
    app = LedgerApp(url)
    view = open_view(app)
    while catch_up(app, view, limit=3, page=3):
        pass
    app.close()


def test_two_processes_catching_up_together_agree_with_a_rebuild(
    make_app: Callable[[], LedgerApp],
) -> None:
    app = make_app()
    for n in range(8):
        ref = f"L{n}"
        app.add_learner(CTX, "C1", ref, given_name="Ada", family_name="Lovelace",
                        date_of_birth="2000-01-01", gender="2")
        app.enrol(CTX, ref, "E1", awarding_body="AIM", qualification="603/1/1", title="Cert",
                  start="2026-04-01", planned_end="2026-06-01")
        app.register(CTX, ref, "E1", submitted="2026-04-20")
    open_view(app)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_catch_up_in_small_pages, args=(app.url,))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    view = open_view(app)
    together = list(view.rows())
    rebuild(app, view)
    assert together == list(view.rows())
    assert all(len(t["facts"]) == 3 for t in together) and len(together) == 8
