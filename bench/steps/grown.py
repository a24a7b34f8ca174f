"""The grown-ledger mode: the same learners imported as successive monthly exports (each a
fresh `ledger import`), so each learner's events are spread over the ledger as a centre's
are after months of use; then the first report after the last import, the end-to-end
commands (as at the moment after the middle month), and `ledger rebuild` of it all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import TARGETS, say, verdict
from bench.monthly import MONTHS, write_monthly_exports
from bench.processes import run_ledger
from bench.steps import commands

DOING = f"importing {MONTHS} monthly exports, then the commands and the rebuild"


def measure(url: str, folder: str, learners: int, reference: str,
            every_command: bool = True) -> dict[str, Any]:
    """The months imported, then the commands (with `every_command` False only the first
    report and the rebuild, the mode's own figures)."""
    work = Path(folder)
    paths, rows = write_monthly_exports(work, learners)
    months, as_at = [], ""
    for month, path in enumerate(paths, 1):
        output = work / "bench-import.json"
        timed = run_ledger(url, ["import", str(path), "--format", "json"], output)
        if timed.failed:
            raise RuntimeError(f"ledger import {path.name} failed: {timed.error}")
        say(f"  month {month}: {timed.seconds:,.1f} s")
        summary = json.loads(output.read_text())
        months.append({**timed.as_dict(), "rows": summary["rows"],
                       "learner_events": summary["events"],
                       "learners_new": summary["learners_new"],
                       "learners_updated": summary["learners_updated"]})
        if month == MONTHS // 2:
            as_at = datetime.now(UTC).isoformat()
    for path in paths:
        path.unlink()
    ran = commands.measure(url, folder, reference, as_at, every=every_command)
    return {"months": months, "rows": rows, **ran}


def lines(grown: dict[str, Any], backend: str) -> list[str]:
    events = sum(month["learner_events"] for month in grown["months"])
    seconds = sum(month["seconds"] for month in grown["months"])
    out = [f"  grown ledger: {MONTHS} monthly exports, {sum(grown['rows']):,} rows, "
           f"{events:,} learner events written by the imports ({seconds:.1f} s in all)"]
    for number, month in enumerate(grown["months"], 1):
        out.append(f"    month {number:>2}  {month['rows']:>9,} rows  {month['learners_new']:>8,} "
                   f"new, {month['learners_updated']:>8,} updated  {month['learner_events']:>9,} "
                   f"learner events  {month['seconds']:>7.1f} s  {month['cpu_seconds']:>7.1f} "
                   f"CPU s  {month['peak_mb'] or 0:>6,.0f} MB")
    out += commands.lines(grown, backend)
    rebuild = grown["commands"]["rebuild"]
    rate = grown["learner_events"] / rebuild["seconds"]
    memory = rebuild["peak_mb"] or 0.0
    out.append(f"  grown rebuild   {rate:>10,.0f} learner events/s (target >= "
               f"{TARGETS['rebuild']:,}: {verdict(rate >= TARGETS['rebuild'])}), "
               f"{memory:,.0f} MB for all its processes together (target < "
               f"{TARGETS['rebuild_peak_mb']} MB: "
               f"{verdict(memory < TARGETS['rebuild_peak_mb'])})")
    return out
