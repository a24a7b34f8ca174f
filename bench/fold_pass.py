"""The rebuild's fold in one process: its CPU per learner event, for comparing its code.

    python bench/fold_pass.py [--learners 5000] [--ledger FILE] [--workers 2] [--workdir DIR]
                              [--json]

A rebuild is bound by the CPU of its folding workers (reading each window's learner events,
decoding their stored JSON, folding them into timelines, writing the timelines' JSON), and
its wall time moves with the host by as much as a change to its code does. This bench
imports an MIS export of N learners (`bench/run.py`'s) into a new SQLite ledger, then folds
every window of it as a rebuild's workers do (`ledger.reporting.rebuild`: each its share of the
learners, two by default, as on 2 cores, the collector paused), one share after the other,
writing nothing, and prints their CPU seconds, the learner events folded and CPU µs per
event; and, measured in the same run as a baseline, the CPU of reading the same rows through
the driver (the workers' own queries) without decoding them, and the ratio of the two. (The
reports' tables are made in the ledger if it has none, as any `ledger` command makes them.)

For a comparison that does not move with the host, count instructions instead, on one ledger
kept for every version of the code compared (`--ledger` reads it, writing none):

    python bench/fold_pass.py --learners 5000 --workdir DIR
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/fold_pass.py \\
        --ledger DIR/fold-ledger.db

prints "Collected : N", the instructions run, the same from run to run (start-up included:
`--windows 0` gives that share).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import closing
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


def new_ledger(path: Path, learners: int, folder: Path) -> None:
    """A new SQLite ledger of N learners, imported as `ledger import` does."""
    from ledger.app import LedgerApp
    from ledger.imports.runner import ImportOptions, import_csv

    export = folder / "fold-export.csv"
    write_export(export, learners)
    remove_sqlite_file(path)
    with closing(LedgerApp(f"sqlite:///{path}")) as app:
        import_csv(app, str(export), ImportOptions(actor="bench"))


def fold_seconds(path: Path, workers: int, windows: int | None) -> tuple[float, float, int]:
    """CPU seconds to fold the ledger's windows as each of a rebuild's workers does, CPU
    seconds to read the same rows undecoded, and the learner events folded."""
    from ledger.app import LedgerApp
    from ledger.bulk.gc_pause import BulkPass
    from ledger.reporting.rebuild import fold_window
    from ledger.reporting.reports import REBUILD_PAGE_SIZE, last_position, learner_rows, open_view
    from ledger.storage.raw_rows import raw_rows

    with closing(LedgerApp(f"sqlite:///{path}")) as app:
        view = open_view(app)
        stop = last_position(app)
        bounds = [(after, min(after + REBUILD_PAGE_SIZE, stop))
                  for after in range(0, stop, REBUILD_PAGE_SIZE)][:windows]
        events = 0
        with BulkPass():
            started = time.process_time()
            for part in range(workers):
                previous: dict[str, Any] = {}
                for window in bounds:
                    previous, (_, _, folded) = fold_window(app, view, (part, workers),
                                                           window, previous)
                    events += folded
            seconds = time.process_time() - started
            started = time.process_time()
            for part in range(workers):  # the same queries, their rows left undecoded
                for window in bounds:
                    raw_rows(app.engine, learner_rows(app, *window, (part, workers)))
            baseline = time.process_time() - started
    return seconds, baseline, events


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    one_process_options(parser, "--ledger", "an SQLite ledger to fold (made by an earlier "
                                            "run), not a new one")
    parser.add_argument("--workers", type=int, default=2,
                        help="the rebuild's workers, whose shares are folded in turn "
                             "(default 2)")
    parser.add_argument("--windows", type=int, default=None,
                        help="fold only the first N windows (default: all)")
    args = one_process_args(parser, argv, "--ledger")
    with work_folder(args.workdir) as workdir:
        ledger = args.ledger or workdir / "fold-ledger.db"
        if args.ledger is None:
            new_ledger(ledger, args.learners, workdir)
        seconds, baseline, events = fold_seconds(ledger, args.workers, args.windows)
    per_event = seconds / events * 1e6 if events else 0.0
    result = {"ledger": str(args.ledger or "new"), "events": events,
              "fold_cpu_seconds": seconds, "fold_cpu_us_per_event": per_event,
              "read_cpu_seconds": baseline,
              "fold_over_read": seconds / baseline if events and baseline else 0.0}
    print_result(result, args.json,
                 f"fold: {events:,} learner events in {seconds:.2f} CPU s ({per_event:.1f} µs "
                 f"an event); reading their rows undecoded: {baseline:.3f} CPU s; fold ÷ "
                 f"reading: {result['fold_over_read']:.1f}")
    return result


if __name__ == "__main__":
    main()
