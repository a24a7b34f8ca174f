"""Pausing Python's cyclic garbage collector around bulk work on many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

COLLECT_EVERY = 50  # steps of a bulk pass (batches) between collections of the young objects
FULL_EVERY = 10  # collections between full ones


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Bulk work (a page of a rebuild, a batch of an import) makes many small dicts, lists
    and events, all freed by reference counting; the cyclic collector's repeated passes over
    them cost a quarter of an import and half of a rebuild. It runs again afterwards, so
    any cycles made meanwhile are still collected."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class BulkPass:
    """The cyclic collector off for a whole bulk pass (an import's check or write pass),
    run by hand every COLLECT_EVERY steps: on the objects made since its last run (the young
    generations), and on everything every FULL_EVERY runs.

    Pausing it batch by batch is not enough: each time it runs again it first passes over
    the objects the batch left alive (the learners kept for the next batch, the plan just
    made), which cost the import's check a sixth of its time. Nor is a full collection
    every fifty batches needed: it passed over the whole heap (200,000 objects in a check
    worker, 0.17 s each time) to find a thousand unreachable ones. A cycle the pass makes
    (a refused row's error and its traceback) is young when it becomes garbage, so the
    next young collection frees it, and memory stays flat; the occasional full collection
    frees what became garbage only after surviving a collection.
    """

    def __init__(self, every: int = COLLECT_EVERY, full_every: int = FULL_EVERY) -> None:
        self.every = every
        self.full_every = full_every
        self.steps = 0
        self.enabled = False

    def __enter__(self) -> BulkPass:
        self.enabled = gc.isenabled()
        gc.disable()
        return self

    def step(self) -> None:
        """One step (a batch) done: collect, if it is time to."""
        self.steps += 1
        if self.steps % self.every:
            return
        if (self.steps // self.every) % self.full_every == 0:
            gc.collect()
        else:
            gc.collect(1)  # generations 0 and 1: what the pass made since the last run

    def __exit__(self, *_: object) -> None:
        if self.enabled:
            gc.enable()
