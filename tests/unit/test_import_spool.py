"""The import's plan spool gives back each batch's prepared events, counts and learners as
they went in."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime

import pytest

from aggregates.learner import Context, Learner
from ledger.app import LedgerApp
from ledger.imports.spool import BatchPlan, PlanSpool
from ledger.imports.tally import Tally
from ledger.privacy.sealing import PreparedEvent

CTX = Context(actor="importer", source="import f.csv:2", note="a note")


@pytest.fixture
def app() -> LedgerApp:
    return LedgerApp("sqlite:///:memory:")


def planned(app: LedgerApp, reference: str) -> list[PreparedEvent]:
    learner = Learner.record("C1", reference, {
        "given_name": "Zoë", "family_name": "O'Brien", "date_of_birth": date(2000, 2, 1),
        "gender": "female"}, "1000000043", [], date(2025, 9, 1), CTX)
    learner.enrol("E1", "IMI", "603/1234/5", "Light vehicle", ["U1"], date(2025, 9, 1),
                  date(2026, 7, 1), False, [], CTX)
    return [app.sealing_mapper.prepare(event) for event in learner.collect_events()]


def test_batches_come_back_in_order_with_the_same_prepared_events(app):
    first = planned(app, "L1")
    batches = [BatchPlan(2, first, Tally(rows=0, events=2, new=1), {first[0].originator_id}),
               BatchPlan(0),
               BatchPlan(1, planned(app, "L2"), Tally(events=2, updated=1), set())]
    with PlanSpool() as spool:
        for plan in batches:
            spool.add(plan)
        back = list(spool.plans())
    assert [plan.rows for plan in back] == [2, 0, 1]
    assert [plan.counts for plan in back] == [plan.counts for plan in batches]
    assert [plan.touched for plan in back] == [plan.touched for plan in batches]
    assert [plan.events for plan in back] == [plan.events for plan in batches]
    assert {type(event) for plan in back for event in plan.events} == {PreparedEvent}
    recorded = app.mapper.transcoder.encode(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    learner = None
    for event in back[0].events:
        learner = app.mapper.to_domain_event(app.sealing_mapper.finish(event, recorded)
                                             ).mutate(learner)
    assert learner.enrolment_refs == ["E1"] and learner.uln == "1000000043"
    assert learner.detail("family_name") == "O'Brien"


def _add_in_worker(app: LedgerApp, spool: PlanSpool) -> None:
    spool.add(BatchPlan(3, planned(app, "L3"), Tally(rows=3, events=2, new=1)))
    spool.add(BatchPlan(0))
    spool.flush()


def test_plans_a_forked_worker_added_and_flushed_are_read_back_by_the_parent(app):
    with PlanSpool() as spool:
        worker = multiprocessing.get_context("fork").Process(target=_add_in_worker,
                                                              args=(app, spool))
        worker.start()
        worker.join()
        back = list(spool.plans())
    assert worker.exitcode == 0
    assert [(plan.rows, len(plan.events)) for plan in back] == [(3, 2), (0, 0)]
    assert back[0].counts == Tally(rows=3, events=2, new=1)
