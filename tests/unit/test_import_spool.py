"""The import's plan spool gives back each batch's events, counts and learners as they went in."""

from __future__ import annotations

import multiprocessing
from datetime import date

from aggregates.learner import Context, Learner
from ledger.imports.spool import BatchPlan, PlanSpool
from ledger.imports.tally import Tally

CTX = Context(actor="importer", source="import f.csv:2", note="a note")


def planned(reference: str) -> list:
    learner = Learner.record("C1", reference, {
        "given_name": "Zoë", "family_name": "O'Brien", "date_of_birth": date(2000, 2, 1),
        "gender": "female"}, "1000000043", [], date(2025, 9, 1), CTX)
    learner.enrol("E1", "IMI", "603/1234/5", "Light vehicle", ["U1"], date(2025, 9, 1),
                  date(2026, 7, 1), False, [], CTX)
    return learner.collect_events()


def test_batches_come_back_in_order_with_equal_events_of_the_same_classes():
    batches = [BatchPlan(2, planned("L1"), Tally(rows=0, events=2, new=1), {planned("L1")[0]
                                                                         .originator_id}),
               BatchPlan(0),
               BatchPlan(1, planned("L2"), Tally(events=2, updated=1), set())]
    with PlanSpool() as spool:
        for plan in batches:
            spool.add(plan)
        back = list(spool.plans())
    assert [plan.rows for plan in back] == [2, 0, 1]
    assert [plan.counts for plan in back] == [plan.counts for plan in batches]
    assert [plan.touched for plan in back] == [plan.touched for plan in batches]
    for plan, original in zip(back, batches, strict=True):
        assert [type(e) for e in plan.events] == [type(e) for e in original.events]
        assert [vars(e) for e in plan.events] == [vars(e) for e in original.events]
    learner = None
    for event in back[0].events:
        learner = event.mutate(learner)
    assert learner.enrolment_refs == ["E1"] and learner.uln == "1000000043"


def _add_in_worker(spool: PlanSpool) -> None:
    spool.add(BatchPlan(3, planned("L3"), Tally(rows=3, events=2, new=1)))
    spool.add(BatchPlan(0))
    spool.flush()


def test_plans_a_forked_worker_added_and_flushed_are_read_back_by_the_parent():
    with PlanSpool() as spool:
        worker = multiprocessing.get_context("fork").Process(target=_add_in_worker,
                                                              args=(spool,))
        worker.start()
        worker.join()
        back = list(spool.plans())
    assert worker.exitcode == 0
    assert [(plan.rows, len(plan.events)) for plan in back] == [(3, 2), (0, 0)]
    assert back[0].counts == Tally(rows=3, events=2, new=1)
