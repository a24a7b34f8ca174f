"""The verify step: `ledger verify` over the whole chain."""

from __future__ import annotations

import time
from typing import Any

from bench.common import TARGETS, open_app, verdict

DOING = "verifying the chain"


def measure(url: str) -> dict[str, Any]:
    from ledger.bulk.workers import worker_count
    from ledger.integrity.verify import verify_ledger
    app = open_app(url)
    started = time.perf_counter()
    result = verify_ledger(app)
    seconds = time.perf_counter() - started
    assert result.ok, result.problem
    return {"events": result.events, "seconds": seconds, "rate": result.events / seconds,
            "workers": worker_count(app.engine, result.events)}


def lines(ver: dict[str, Any], backend: str) -> list[str]:
    return [f"  verify          {ver['rate']:>10,.0f} events/s  ({ver['events']:,} stored events "
            f"in {ver['seconds']:.1f} s, {ver['workers']} process(es); "
            f"target >= {TARGETS['verify']:,}: {verdict(ver['rate'] >= TARGETS['verify'])})"]

