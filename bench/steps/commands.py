"""The end-to-end step: what a person waits for, each command a fresh `ledger` process as a
user runs it (the reports in each format, the first report after an import, audits as they
stand and as at a past moment, verify, rebuild), its output redirected to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import TARGETS, open_app, say, verdict
from bench.processes import run_ledger
from ledger.demo import CENTRE

DOING = "running each report, audit, verify and rebuild as a fresh `ledger` process"
FORMATS = ("table", "csv", "json")
PARTIAL = "bench-commands.json"  # the commands' figures so far, in the work folder
# (name, the command's arguments after `ledger`, its target in seconds or None); REF and
# AS_AT stand for the learner and the moment given to the step
REPORTS = [
    *[(f"late-registrations {form}", ["report", "late-registrations", "--format", form],
       TARGETS["late_table_s" if form == "table" else "late_formats_s"]) for form in FORMATS],
    *[(f"maladministration {form}", ["report", "maladministration", "--format", form],
       TARGETS["maladministration_s"]) for form in FORMATS],
]
AUDITS = [
    ("audit REF", ["audit", "REF"], None),
    ("audit REF --as-at", ["audit", "REF", "--as-at", "AS_AT"], TARGETS["audit_as_at_s"]),
    ("report audit --centre --as-at",
     ["report", "audit", "--centre", CENTRE, "--as-at", "AS_AT"], None),
]
FIRST = ("first report after the import", ["report", "late-registrations"],
         TARGETS["first_report_s"])
START_UP = ("ledger --version (start-up alone)", ["--version"], None)
WHOLE = [("verify", ["verify"], None), ("rebuild", ["rebuild"], None)]


def counts(url: str) -> dict[str, int]:
    """The ledger's stored events, its learner events (the rest are the reference index's)."""
    from ledger.reporting.reports import LEARNER_TOPICS
    app = open_app(url)
    topics = ", ".join(f"'{topic}'" for topic in LEARNER_TOPICS)
    with app.engine.connect() as connection:
        stored = int(connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one())
        learner = int(connection.execute(text(
            f"SELECT count(*) FROM ledger_events WHERE topic IN ({topics})")).scalar_one())
    app.close()
    return {"stored_events": stored, "learner_events": learner, "index_events": stored - learner}


def plan(reference: str, as_at: str,
         every: bool = True) -> list[tuple[str, list[str], float | None]]:
    """The commands in the order they run: `ledger --version` (the start-up every command
    pays, for comparison; it reads no database), the first report (straight after an
    import), the reports in each format, the audits, then verify and the rebuild; not
    `every`: the start-up, the first report and the rebuild alone."""
    chosen = ([START_UP, FIRST, *REPORTS, *AUDITS, *WHOLE] if every
              else [START_UP, FIRST, WHOLE[-1]])
    return [(name, [reference if part == "REF" else as_at if part == "AS_AT" else part
                    for part in arguments], target) for name, arguments, target in chosen]


def measure(url: str, folder: str, reference: str, as_at: str,
            every: bool = True) -> dict[str, Any]:
    """Each planned command timed; the outputs go to a file in `folder`, deleted after, and
    the figures so far to PARTIAL there as each command ends (a step of hours, stopped
    early, keeps them)."""
    commands: dict[str, Any] = {}
    for name, arguments, target in plan(reference, as_at, every):
        output = Path(folder) / "bench-command.out"
        timed = run_ledger(url, arguments, output)
        commands[name] = {**timed.as_dict(), "target_s": target}
        output.unlink()
        (Path(folder) / PARTIAL).write_text(json.dumps(commands, indent=2))
        say(f"  {name}: {timed.seconds:,.2f} s{' (failed)' if timed.failed else ''}")
    return {"reference": reference, "as_at": as_at, **counts(url), "commands": commands}


def judged(command: dict[str, Any], events: int | None = None) -> tuple[str, bool | None]:
    """What the command's figure is judged against, and whether it met it (None: no target)."""
    if command["timed_out"]:
        return f"stopped after {command['seconds']:.0f} s", False
    if command["exit_code"] != 0:
        last = (command["error"].strip().splitlines() or [""])[-1]
        return f"FAILED, exit {command['exit_code']}: {last}", False
    if events is not None:  # the rebuild: learner events a second and all its memory
        rate, memory = events / command["seconds"], command["peak_mb"] or 0.0
        met = rate >= TARGETS["rebuild"] and memory < TARGETS["rebuild_peak_mb"]
        return (f"{rate:,.0f} learner events/s; target >= {TARGETS['rebuild']:,} and < "
                f"{TARGETS['rebuild_peak_mb']} MB together"), met
    target = command["target_s"]
    if target is None:
        return "", None
    return f"target < {target} s", command["seconds"] < target


def command_line(name: str, command: dict[str, Any], events: int | None = None) -> str:
    """One command's figures on one line, with its target and verdict if it has one."""
    memory = "memory not sampled (not Linux)"
    if command["peak_mb"] is not None:
        memory = (f"{command['peak_mb']:,.0f} MB together ({command['peak_rss_sum_mb']:,.0f} "
                  f"RSS), largest {command['largest_mb']:,.0f}")
    said, met = judged(command, events)
    tail = f"; {said}: {verdict(met)}" if met is not None else (f"; {said}" if said else "")
    return (f"  {name:<34}{command['seconds']:>8.2f} s  {command['cpu_seconds']:>6.2f} CPU s  "
            f"{memory}{tail}")


def lines(result: dict[str, Any], backend: str) -> list[str]:
    out = [f"  end to end ({result['learner_events']:,} learner events + "
           f"{result['index_events']:,} index events = {result['stored_events']:,} stored; "
           f"learner {result['reference']}, --as-at {result['as_at']}): wall s; CPU s of "
           "the command and its workers; peak memory of its processes together (PSS summed, "
           "sampled every 0.05 s, then sparser; RSS summed beside it) and the largest alone "
           "(its peak RSS)"]
    for name, command in result["commands"].items():
        events = result["learner_events"] if name == "rebuild" else None
        out.append(command_line(name, command, events))
        if name == "verify" and not (command["timed_out"] or command["exit_code"]):
            out[-1] += f" ({result['stored_events'] / command['seconds']:,.0f} stored events/s)"
    return out
