"""How many worker processes a bulk pass over the whole ledger (verify, rebuild) should use."""

from __future__ import annotations

import multiprocessing
import os

from sqlalchemy.engine import Engine

PARALLEL_FROM = 50_000  # events: below this, starting worker processes costs more than it saves
MAX_WORKERS = 8


def worker_count(engine: Engine, events: int) -> int:
    """One process per core (at most MAX_WORKERS) for a large ledger in a file or on a
    server, else one.

    Workers are forked (they inherit the parent's set-up) and open connections of their
    own, so an in-memory database or a platform without fork gets one process.
    """
    if events < PARALLEL_FROM or not can_fork_workers(engine):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def can_fork_workers(engine: Engine) -> bool:
    """Whether forked workers can open the same database: a file or a server (not SQLite in
    memory), on a platform with fork (not Windows)."""
    database = str(engine.url.database or "")
    in_memory = engine.dialect.name == "sqlite" and (database in ("", ":memory:")
                                                    or "mode=memory" in database)
    return not in_memory and "fork" in multiprocessing.get_all_start_methods()


def use_own_connections(engine: Engine) -> None:
    """In a forked worker: forget the pooled connections inherited from the parent without
    closing them (closing would end the parent's sessions too); new ones are opened."""
    engine.dispose(close=False)
