"""The audit step: random learners' trails as `ledger audit REF` builds them."""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from bench.common import SEED, TARGETS, open_app, verdict

DOING = "building random learners' audit trails"


def measure(url: str, learners: int, samples: int) -> dict[str, Any]:
    from projections.audit import audit_rows
    app = open_app(url)
    rng = random.Random(SEED)
    times = []
    for _ in range(samples):
        reference = f"L{rng.randint(1, learners):05d}"
        app.keys.forget_all()  # as `ledger audit` in a new process: no key cached
        started = time.perf_counter()
        _, events = app.learner_history(reference, None)
        audit_rows(events)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"samples": samples, "median_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))]}


def lines(aud: dict[str, Any], backend: str) -> list[str]:
    target = TARGETS["audit_median_ms"]
    return [f"  audit           {aud['median_ms']:>10.1f} ms median, {aud['p95_ms']:.1f} ms p95 "
            f"({aud['samples']} learners; target median < {target} ms: "
            f"{verdict(aud['median_ms'] < target)})"]

