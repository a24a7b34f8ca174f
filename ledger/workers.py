"""How many worker processes a bulk pass over the whole ledger (verify, rebuild) should use."""

from __future__ import annotations

import multiprocessing
import os

from sqlalchemy.engine import Engine

PARALLEL_FROM = 50_000  # events: below this, starting worker processes costs more than it saves
MAX_WORKERS = 8


def worker_count(engine: Engine, events: int) -> int:
    """One process per core for a large ledger in a file or on a server, else one.

    Workers are forked (they inherit the parent's set-up) and open connections of their
    own, so an in-memory database or a platform without fork gets one process.
    """
    database = str(engine.url.database or "")
    if events < PARALLEL_FROM or not database or "memory" in database:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():  # Windows: one process
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
