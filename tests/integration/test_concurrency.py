"""Concurrent writers on one learner: optimistic concurrency loses no event."""

import multiprocessing

from aggregates.learner import Context

WRITERS = 3
ENROLMENTS_EACH = 8


def enrol_many(url: str, writer: int) -> None:
    from ledger.app import LedgerApp

    app = LedgerApp(url)
    ctx = Context(actor=f"writer-{writer}", source="test")
    for number in range(ENROLMENTS_EACH):
        app.enrol(ctx, "L1", f"W{writer}-{number}", awarding_body="AIM", qualification="Q1",
                  title="Award", start="2026-09-01", planned_end="2027-01-01")
    app.engine.dispose()


def test_processes_writing_to_the_same_learner_lose_no_event(make_app, db_url):
    app = make_app()
    app.add_learner(Context("setup", "test"), "C1", "L1", given_name="Ann", family_name="Lee",
                    date_of_birth="2000-01-01", gender="2")
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=enrol_many, args=(db_url, n)) for n in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0] * WRITERS
    learner = make_app().find_learner("L1")
    assert len(learner.enrolment_refs) == WRITERS * ENROLMENTS_EACH
    assert learner.version == 1 + WRITERS * ENROLMENTS_EACH
