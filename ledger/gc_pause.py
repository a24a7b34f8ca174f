"""Pausing Python's cyclic garbage collector around bulk work on many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

COLLECT_EVERY = 50  # steps of a bulk pass (batches) between full collections


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
    with one full collection every COLLECT_EVERY steps.

    Pausing it batch by batch is not enough: each time it runs again it first passes over
    the objects the batch left alive (the learners kept for the next batch, the plan just
    made), which cost the import's check a sixth of its time. A full collection every
    fifty batches still frees any cycles the pass makes (a refused row's error and its
    traceback), so memory stays flat.
    """

    def __init__(self, every: int = COLLECT_EVERY) -> None:
        self.every = every
        self.steps = 0
        self.enabled = False

    def __enter__(self) -> BulkPass:
        self.enabled = gc.isenabled()
        gc.disable()
        return self

    def step(self) -> None:
        """One step (a batch) done: collect, if it is time to."""
        self.steps += 1
        if self.steps % self.every == 0:
            gc.collect()

    def __exit__(self, *_: object) -> None:
        if self.enabled:
            gc.enable()
