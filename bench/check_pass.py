"""The import's check in one process: its CPU per stored event, for comparing its code.

    python bench/check_pass.py [--learners 5000] [--export FILE] [--workdir DIR] [--json]

The import's check (parsing each row, planning it through the aggregates' commands,
preparing the events for storing, spooling them) is bound by the CPU of both cores, and its
wall time moves with the host by as much as a change to its code does. This bench writes an
MIS export of N learners (`bench/run.py`'s), runs the check over all of it in this process
against a new SQLite ledger, writing nothing but its spool, and prints its CPU seconds, the
stored events it planned and CPU µs per event; and, measured in the same run as a baseline,
the CPU of reading the same file with the `csv` module, and the ratio of the two.

For a comparison that does not move with the host, count instructions instead, on one
export kept for every version of the code compared (`--export` reads it, writing none):

    python bench/check_pass.py --learners 5500 --workdir DIR
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/check_pass.py \\
        --export DIR/check-export.csv

prints "Collected : N", the instructions run, the same from run to run (start-up included:
an export of its header and first row gives that share).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    one_process_args,
    one_process_options,
    print_result,
    remove_sqlite_file,
    work_folder,
    write_export,
)


def csv_seconds(path: Path) -> tuple[float, int]:
    """CPU seconds to read every row of the file as a dict (the baseline), and its rows."""
    started = time.process_time()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    return time.process_time() - started, rows


def check_seconds(path: Path, ledger: Path) -> tuple[float, int]:
    """CPU seconds of the import's check over the whole file in this process, and the
    stored events it planned."""
    from ledger.app import LedgerApp
    from ledger.bulk.progress import NoProgress
    from ledger.imports.runner import Check, ImportOptions
    from ledger.imports.source import CsvSource
    from ledger.imports.spool import PlanSpool

    remove_sqlite_file(ledger)
    app = LedgerApp(f"sqlite:///{ledger}")
    options = ImportOptions(actor="bench")
    source = CsvSource(path, options.layout)
    check = Check(app, source, source.header(), options, path.name, date.today())
    with closing(app), PlanSpool() as spool:
        started = time.process_time()
        problems, _ = check.share(check.batches(), spool, NoProgress())
        seconds = time.process_time() - started
        spool.flush()
        events = sum(len(plan.events) for plan in spool.plans())  # the index's included
    if problems:
        raise SystemExit(f"the bench's export has {len(problems)} bad row(s): {problems[0]}")
    return seconds, events


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    one_process_options(parser, "--export", "an MIS export to check (written by an earlier "
                                            "run), not a new one")
    args = one_process_args(parser, argv, "--export")
    with work_folder(args.workdir) as workdir:
        export = args.export or workdir / "check-export.csv"
        if args.export is None:
            write_export(export, args.learners)
        baseline, rows = csv_seconds(export)
        seconds, events = check_seconds(export, workdir / "check-ledger.db")
    per_event = seconds / events * 1e6 if events else 0.0
    result = {"export": str(args.export or "new"), "rows": rows, "events": events,
              "check_cpu_seconds": seconds, "check_cpu_us_per_event": per_event,
              "csv_cpu_seconds": baseline,
              "check_over_csv": seconds / baseline if baseline else 0.0}
    print_result(result, args.json,
                 f"check: {events:,} stored events from {rows:,} rows in {seconds:.2f} CPU s "
                 f"({per_event:.1f} µs an event); reading the CSV: {baseline:.3f} CPU s; "
                 f"check ÷ reading: {result['check_over_csv']:.1f}")
    return result


if __name__ == "__main__":
    main()
