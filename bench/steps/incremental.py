"""The incremental step: the reports caught up after an import of new learners."""

from __future__ import annotations

import time
from typing import Any

from bench.common import TARGETS, open_app, verdict

DOING = "importing the new learners and catching the reports up"
EXTRA_LEARNERS = 175  # the incremental report's: 1,150 to 1,280 new events, by the date



def measure(url: str, path: str) -> dict[str, Any]:
    from ledger.imports.runner import ImportOptions, import_csv
    from ledger.reporting.reports import catch_up, open_view
    app = open_app(url)
    view = open_view(app)
    catch_up(app, view)
    import_csv(app, path, ImportOptions(actor="bench"))
    started = time.perf_counter()
    events = catch_up(app, view)
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds}


def lines(inc: dict[str, Any], backend: str) -> list[str]:
    target = TARGETS["incremental_s"]
    return [f"  incremental     {inc['seconds']:>10.3f} s         (the reports caught up after "
            f"{inc['events']:,} new learner events; target < {target} s: "
            f"{verdict(inc['seconds'] < target)})"]

