"""The cyclic collector paused for bulk work, and cycles still collected."""

from __future__ import annotations

import gc
import weakref

from ledger.bulk.gc_pause import BulkPass, cyclic_gc_paused


class Node:
    """An object that can be put in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def garbage_cycle() -> weakref.ref[Node]:
    """A cycle nothing refers to: only the cyclic collector can free it."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_a_bulk_pass_pauses_the_collector_and_frees_cycles_every_so_many_steps():
    assert gc.isenabled()
    with BulkPass(every=3) as bulk:
        assert not gc.isenabled()
        cycle = garbage_cycle()
        bulk.step()
        bulk.step()
        assert cycle() is not None  # not collected yet
        bulk.step()
        assert cycle() is None  # the third step collected it
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_cycle_that_survived_a_collection_is_freed_by_the_next_full_one():
    with BulkPass(every=1, full_every=3) as bulk:
        first, second = Node(), Node()
        first.other, second.other = second, first
        cycle = weakref.ref(first)
        bulk.step()  # a young collection: the cycle is alive, and old from now on
        del first, second
        bulk.step()  # another young collection: old objects are not looked at
        assert cycle() is not None
        bulk.step()  # the third collection is a full one
        assert cycle() is None


def test_a_bulk_pass_leaves_the_collector_off_if_it_was_off():
    gc.disable()
    try:
        with BulkPass():
            pass
        assert not gc.isenabled()
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_runs_again_after_a_bulk_pass_that_failed():
    try:
        with BulkPass():
            raise ValueError("a refused batch")
    except ValueError:
        pass
    assert gc.isenabled()
