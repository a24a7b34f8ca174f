"""The rebuild step: `ledger rebuild` of the reports, its rate and the memory of all its
processes together."""

from __future__ import annotations

import time
from typing import Any

from bench.common import TARGETS, open_app, peak_mb, verdict
from bench.memory import TreePeak

DOING = "rebuilding the reports"


def measure(url: str) -> dict[str, Any]:
    from ledger.bulk.workers import worker_count
    from ledger.reporting.rebuild import rebuild
    from ledger.reporting.reports import last_position, open_view
    from ledger.rules.rulesets import load_rulebook
    app = open_app(url)
    view = open_view(app)
    book = load_rulebook()
    with TreePeak() as memory:  # the timelines and the kept rows, as `ledger rebuild` does
        started = time.perf_counter()
        events = rebuild(app, view, book=book)
        seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "rate": events / seconds,
            "peak_mb": peak_mb(), "peak_total_mb": memory.peak_mb,
            "workers": worker_count(app.engine, last_position(app))}


def lines(reb: dict[str, Any], backend: str) -> list[str]:
    total, limit = reb.get("peak_total_mb"), TARGETS["rebuild_peak_mb"]
    judged = reb["peak_mb"] if total is None else total
    return [
        f"  rebuild         {reb['rate']:>10,.0f} events/s  ({reb['events']:,} learner events in "
        f"{reb['seconds']:.1f} s, {reb['workers']} worker process(es); "
        f"target >= {TARGETS['rebuild']:,}: {verdict(reb['rate'] >= TARGETS['rebuild'])})",
        f"  rebuild memory  {judged:>10,.0f} MB peak  ("
        + ("" if total is None else f"all its processes together; the largest alone "
           f"{reb['peak_mb']:,.0f} MB; ")
        + f"target < {limit} MB: {verdict(judged < limit)})",
    ]

