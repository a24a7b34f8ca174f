"""Pausing Python's cyclic garbage collector around bulk work on many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
