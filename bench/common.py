"""What the bench's steps and scripts share: the synthetic export, the host's speed, the
ledger under test, CPU and memory readings, work folders, targets and output."""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from ledger.demo import CentreGenerator
from ledger.imports.layouts import MIS_EXPORT

DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


BENCH_KEY = "YmVuY2gtbWFzdGVyLWtleS1ub3QtZm9yLXByb2QtdXM="


SEED = 2026


TARGETS = {
    "import_sqlite": 30_000, "import_postgres": 15_000, "import_raw_fraction": 1 / 8,
    "rebuild": 100_000, "incremental_s": 0.5, "audit_median_ms": 10.0, "rebuild_peak_mb": 300,
    "verify": 200_000,
    # end to end, a fresh `ledger` process each (issue 37), seconds
    "late_table_s": 1.0, "late_formats_s": 1.5, "maladministration_s": 1.5,
    "first_report_s": 3.0, "audit_as_at_s": 3.0,
}



def write_export(path: Path, learners: int, prefix: str = "L", seed: int = SEED) -> int:
    """Write an MIS export of `learners` learners; returns its number of rows."""
    generator = CentreGenerator(learners, seed, date.today())
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MIS_EXPORT.columns), restval="")
        writer.writeheader()
        for number in range(1, learners + 1):
            generator.learner(number)
            for row in generator.mis_rows:
                row["learner"] = prefix + row["learner"][1:]
                writer.writerow(row)
                rows += 1
            generator.mis_rows.clear()
            generator.event_rows.clear()
    return rows


def host_speed_us() -> float:
    """Microseconds for `sum(range(1000))`, best of 5 (lower is faster)."""
    loops = 10_000
    return min(timeit.repeat("sum(range(1000))", number=loops, repeat=5)) / loops * 1e6


def open_app(url: str) -> Any:
    from ledger.app import LedgerApp
    return LedgerApp(url)


def event_count(app: Any) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one())


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and of its children that have ended."""
    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def peak_mb() -> float:
    """The peak resident set size in MB of this process or of any worker it started and
    waited for, whichever is larger (ru_maxrss is in KiB on Linux)."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


@contextmanager
def work_folder(given: Path | None) -> Iterator[Path]:
    """The folder given with `--workdir`, made if missing (and kept), or a temporary one
    (removed after)."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = given or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


def one_process_options(parser: argparse.ArgumentParser, kept: str, kept_help: str) -> None:
    """The options the benches of one pass in one process share: `--learners` for the input
    they make, `kept` (`--export`, `--ledger`) for one an earlier run made instead,
    `--workdir` and `--json`."""
    parser.add_argument("--learners", type=int, default=5_000,
                        help="learners in the input made (default 5000)")
    parser.add_argument(kept, type=Path, default=None, help=kept_help)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the export and the ledger, made if missing (default: "
                             "a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def one_process_args(parser: argparse.ArgumentParser, argv: list[str] | None,
                     kept: str) -> argparse.Namespace:
    """The options parsed and checked (a kept input that is not there is refused, not made
    anew), with the bench's master key set unless one is."""
    args = parser.parse_args(argv)
    given = getattr(args, kept.lstrip("-"))
    if given is not None and not given.is_file():
        parser.error(f"{kept} {given}: no such file")
    if args.learners < 1:
        parser.error("--learners must be at least 1")
    os.environ.setdefault("LEDGER_MASTER_KEY", BENCH_KEY)
    return args


def print_result(result: dict[str, Any], as_json: bool, line: str) -> None:
    """The figures as JSON, or as the one line given."""
    print(json.dumps(result, indent=2) if as_json else line)


def remove_sqlite_file(path: Path) -> None:
    """An SQLite database file and its write-ahead log, if they are there."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def say(message: str) -> None:
    """A progress line on stderr (stdout holds the results: a table, or JSON)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"

