"""Editing the database behind the ledger's back is caught by `verify`, which names the event."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.integrity import chain_scan
from ledger.integrity.chain import Digest
from ledger.integrity.verify import current_digest, digest_at, verify_ledger
from ledger.storage.raw_rows import uuid_text
from tests.conftest import without_event_checks
from tests.integration.integrity import tampering as t

Tamper = Callable[[Any, Any], object]


@pytest.fixture
def ledger(make_app):
    app = make_app()
    t.record_small_ledger(app)
    with app.engine.begin() as connection:
        t.drop_triggers(connection)
    return app


def tamper(app: Any, edit: Tamper) -> None:
    with app.engine.begin() as connection:
        edit(app, connection)


# One process reading pages of 5,000; three processes (forked) each reading pages of 2.
SCANS = pytest.mark.parametrize("scan", [{"workers": 1}, {"workers": 3, "page": 2}],
                                ids=["one-process", "three-processes"])


@SCANS
def test_an_untouched_ledger_verifies_and_reports_its_head_digest(ledger, scan):
    result = verify_ledger(ledger, **scan)
    assert result.ok
    assert result.events == 10
    assert str(result.head) == current_digest(ledger)["digest"]
    assert result.head.position == 10


@pytest.mark.parametrize(("edit", "position", "kind", "verified_before"), [
    (lambda app, c: t.edit_state_byte(app, c, 4), 4, "changed", 3),
    (lambda app, c: t.break_state_encoding(app, c, 4), 4, "changed", 3),
    (lambda app, c: t.delete_event(app, c, 4), 4, "missing", 3),
    (lambda app, c: t.delete_event_and_link(app, c, 4), 5, "missing", 3),
    (lambda app, c: t.swap_events(app, c, 3, 5), 3, "reordered", 2),
    (lambda app, c: t.swap_events_and_links(app, c, 3, 5), 3, "reordered", 2),
    (lambda app, c: t.insert_forged_event(app, c), 11, "inserted", 10),
    (lambda app, c: t.truncate_events_after(app, c, 7), 8, "missing", 7),
    (lambda app, c: t.edit_link_hash(app, c, 6), 6, "changed", 5),
], ids=["state-byte-edited", "state-not-utf8", "row-deleted", "row-and-link-deleted",
        "rows-swapped", "rows-and-links-swapped", "forged-row-inserted", "tail-truncated",
        "chain-entry-edited"])
@SCANS
def test_each_kind_of_tampering_is_caught_and_the_first_bad_event_named(
    ledger, edit, position, kind, verified_before, scan
):
    tamper(ledger, edit)
    result = verify_ledger(ledger, **scan)
    assert result.problem is not None
    assert (result.problem.position, result.problem.kind) == (position, kind)
    assert result.events == verified_before


def test_a_changed_event_is_named_by_position_kind_and_learner(ledger):
    tamper(ledger, lambda app, c: t.edit_state_byte(app, c, 4))
    problem = verify_ledger(ledger).problem
    assert problem is not None
    learner = ledger.find_learner("L2").id
    assert problem.message == (
        f"event 4 (Learner.Recorded, version 1 of {learner}) does not match its chain entry: "
        "its stored content (aggregate, version, topic or state bytes) was altered"
    )


@SCANS
def test_a_rewritten_chain_passes_alone_but_not_against_an_earlier_digest(ledger, scan):
    kept = Digest.parse(current_digest(ledger)["digest"])
    tamper(ledger, lambda app, c: t.edit_state_byte(app, c, 2))
    tamper(ledger, t.rechain)
    assert verify_ledger(ledger, **scan).ok
    problem = verify_ledger(ledger, kept, **scan).problem
    assert problem is not None
    assert (problem.position, problem.kind) == (10, "changed")


@SCANS
def test_a_truncated_tail_with_its_chain_is_caught_by_an_earlier_digest(ledger, scan):
    kept = Digest.parse(current_digest(ledger)["digest"])
    tamper(ledger, lambda app, c: t.truncate_both_after(app, c, 7))
    assert verify_ledger(ledger, **scan).ok
    problem = verify_ledger(ledger, kept, **scan).problem
    assert problem is not None
    assert (problem.position, problem.kind) == (10, "truncated")


@SCANS
def test_a_ledger_that_grew_after_a_digest_still_extends_it(ledger, scan):
    kept = Digest.parse(current_digest(ledger)["digest"])
    ledger.enrol(t.CTX, "L2", "E2", awarding_body="CG", qualification="600/1234/5",
                 title="Plumbing", start="2025-09-01", planned_end="2026-07-01")
    result = verify_ledger(ledger, kept, **scan)
    assert result.ok and result.extends == kept
    assert result.events == 11


@SCANS
def test_a_digest_from_the_middle_of_the_chain_is_found_and_checked(ledger, scan):
    middle = digest_at(ledger, 6)
    assert verify_ledger(ledger, middle, **scan).extends == middle
    problem = verify_ledger(ledger, Digest(6, "1" * 64), **scan).problem
    assert problem is not None and (problem.position, problem.kind) == (6, "changed")


def test_verify_pages_through_the_chain_and_catches_tampering_on_a_page_boundary(ledger):
    assert verify_ledger(ledger, page=3).ok
    tamper(ledger, lambda app, c: t.edit_state_byte(app, c, 7))
    problem = verify_ledger(ledger, page=3).problem
    assert problem is not None and problem.position == 7


def test_verify_reads_each_page_with_the_cyclic_collector_off_and_leaves_it_on(ledger,
                                                                             monkeypatch):
    collecting: list[bool] = []

    def reading(engine: Any, query: Any) -> list[Any]:
        collecting.append(gc.isenabled())
        return chain_scan_raw_rows(engine, query)

    chain_scan_raw_rows = chain_scan.raw_rows
    monkeypatch.setattr(chain_scan, "raw_rows", reading)
    assert gc.isenabled()
    assert verify_ledger(ledger, page=3, workers=1).ok
    assert collecting and not any(collecting)
    assert gc.isenabled()
    tamper(ledger, lambda app, c: t.edit_state_byte(app, c, 5))  # the scan stops mid-page
    assert verify_ledger(ledger, page=3).problem is not None
    assert gc.isenabled()


def _append(app: Any, count: int) -> None:
    for _ in range(count // 50):
        originator = uuid4()
        app.recorder.insert_events([
            StoredEvent(originator_id=originator, originator_version=version, topic="bulk",
                        state=b"x" * 300)
            for version in range(1, 51)
        ])


def _peak_verifying(app: Any) -> int:
    # the id caches are bounded (their size, not the ledger's, sets their memory), but one
    # run growing a table while another does not would be measured as verify's own memory
    uuid_text.cache_clear()
    chain_scan._framed_originator.cache_clear()
    tracemalloc.start()
    try:
        assert verify_ledger(app, page=100).ok
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_verify_memory_stays_flat_as_the_number_of_events_grows(make_app):
    app = without_event_checks(make_app())
    _append(app, 250)
    small = _peak_verifying(app)
    _append(app, 1750)
    large = _peak_verifying(app)
    assert large < small * 1.5, (small, large)



def test_an_empty_ledgers_digest_is_extended_by_every_later_ledger(make_app):
    app = make_app()
    empty = Digest.parse(current_digest(app)["digest"])
    assert empty == Digest(0, "0" * 64)
    t.record_small_ledger(app)
    result = verify_ledger(app, empty)
    assert result.ok and result.extends == empty and result.events == 10
    forged = verify_ledger(app, Digest(0, "1" * 64)).problem
    assert forged is not None and forged.kind == "changed"

