"""The ledger at awarding-body scale: import, the commands a person waits for, rebuild,
incremental report, audit and verify, on a ledger imported at once and on a grown one.

    python bench/run.py [--learners 100000] [--backend sqlite|postgres|both] [--json]
                        [--steps import,commands,rebuild,incremental,audit,verify]
                        [--mode standard|grown|both]
                        [--postgres URL] [--schema bench_run] [--workdir DIR]
                        [--samples 200] [--raw-rounds 3]

Generates a synthetic MIS export of N learners (the demo centre's generator, about 8 events a
learner with the reference index), then for each backend, each step in its own process:

- import: `ledger import`'s code path (ledger.imports.import_csv), learner events/s (as the
  CLI counts them; the reference index's events, two a new learner, printed beside), and the
  wall and CPU seconds of its two passes (checking, importing) and of the reports phase
  `ledger import` runs after them (the report tables and rows brought up to date); in the same run
  a raw executemany (SQLite) / COPY (PostgreSQL) of the same stored rows into a plain table
  (on SQLite in a new file, as the import's ledger was new), in as many transactions as the
  import stored them in, and on SQLite checkpointed after, as the import is, --raw-rounds
  times (its rate varies with the disk from one round to the next), and the ratio of the
  import's rate to the median round's, with the spread over the rounds (and, for comparison
  with earlier runs, on SQLite the rounds' rates without their checkpoints, and the same
  rounds into a table in the ledger's own file); and on SQLite a plain executemany of the
  same rows into a new file left at SQLite's defaults (rollback journal), as many rounds;
- commands, end to end: each a fresh `ledger` process as a user runs it, its output to a
  file: the first `report late-registrations` after the import, both reports in table, csv
  and json, `audit REF`, `audit REF --as-at T`, `report audit --centre C --as-at T` (T
  halfway through the import's write pass), `verify` and `rebuild`: the wall seconds, the
  CPU seconds of the command and every worker it started (from the kernel when it ends),
  and the peak memory of all its processes together (their proportional set sizes summed,
  read from /proc every 0.05 s, thinning to every 2% of the time so far, at most 1 s;
  and the largest process's own peak RSS);
- rebuild: `ledger rebuild` of the report projection (the reports' one materialised table),
  learner events/s, and its peak memory: of all its processes together (the sum of their
  proportional set sizes, sampled every 0.2 s; Linux), and the largest process's peak RSS;
- incremental: catching the reports up after at least 1,000 new events (an import of new
  learners), seconds;
- audit: one learner's trail as `ledger audit REF` builds it, median and 95th percentile ms
  over random learners;
- verify: `ledger verify`, events/s (one process per core on a large ledger).

`--steps` picks the steps after the import (which always runs: it builds the ledger).
After each step the figures so far are written to `bench-results.json` in the work folder
(kept with `--workdir`), and the end-to-end commands' to `bench-commands.json` after each
command, so a long run stopped early keeps what it measured.

`--mode grown` (or `both`, the default) builds a second ledger of the same learners as 10
monthly exports, each imported by a fresh `ledger import` (later months bring submissions,
confirmations, withdrawals, claims and amendments of learners recorded before), then runs the
commands on it (the `--as-at` moment after the fifth month's import; with `commands` left out
of `--steps`, only the first report and the rebuild) and times its `ledger rebuild` (target:
>= 100,000 learner events/s, < 300 MB for all its processes together).

The run also times a fixed piece of pure Python (`sum(range(1000))`, best of 5) at its start
and its end: the host's speed at the time, since the same machine, or another of its kind,
can be twice as fast on one day as on another, and every figure moves with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import ArgumentError, DBAPIError  # noqa: E402

from bench.common import (  # noqa: E402
    BENCH_KEY,
    DEFAULT_POSTGRES,
    SEED,
    TARGETS,
    host_speed_us,
    remove_sqlite_file,
    say,
    work_folder,
    write_export,
)
from bench.steps import (  # noqa: E402
    audit,
    commands,
    grown,
    importing,
    incremental,
    rebuild,
    verify,
)

PARTIAL = "bench-results.json"  # the figures so far, in the work folder, after each step
STEPS = ("import", "commands", "rebuild", "incremental", "audit", "verify")
STEP_MODULES = {"import": importing, "commands": commands, "rebuild": rebuild,
                "incremental": incremental, "audit": audit, "verify": verify}
MODES = ("standard", "grown")


def child(arguments: list[str]) -> None:
    step, url, *rest = arguments
    result: dict[str, Any]
    if step == "import":
        result = importing.measure(url, rest[0], int(rest[1]))
    elif step == "commands":
        result = commands.measure(url, rest[0], rest[1], rest[2])
    elif step == "grown":
        result = grown.measure(url, rest[0], int(rest[1]), rest[2], rest[3] == "every")
    elif step == "rebuild":
        result = rebuild.measure(url)
    elif step == "incremental":
        result = incremental.measure(url, rest[0])
    elif step == "audit":
        result = audit.measure(url, int(rest[0]), int(rest[1]))
    else:
        result = verify.measure(url)
    print(json.dumps(result))


def run_child(*arguments: str) -> dict[str, Any]:
    env = {**os.environ, "LEDGER_MASTER_KEY": os.environ.get("LEDGER_MASTER_KEY", BENCH_KEY)}
    env.pop("LEDGER_MASTER_KEY_FILE", None)
    done = subprocess.run([sys.executable, __file__, "--child", *arguments], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:  # its error went to stderr, with its progress lines
        raise SystemExit(f"bench step {arguments[0]} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def postgres_problem(server: str, schema: str) -> str | None:
    """Why the run could not use this server and schema, checked before any step runs (so a
    run on both databases does not lose its SQLite figures to it); None if it can."""
    if not SCHEMA_NAME.fullmatch(schema):
        return f"--schema {schema!r} is not a plain name (letters, digits, _)"
    try:
        engine = create_engine(server)
        with engine.connect():
            pass
        engine.dispose()
    except (ArgumentError, DBAPIError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return (f"cannot use PostgreSQL at {server} ({reason}); give another with --postgres "
                "or LEDGER_BENCH_POSTGRES, or run with --backend sqlite")
    return None


SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fresh_postgres(server: str, schema: str) -> str:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3D{schema}"


def reference(learners: int) -> str:
    """The learner the end-to-end audits look up: the middle one."""
    return f"L{max(1, learners // 2):05d}"


def bench_backend(url: str, export: Path, extra: Path, learners: int, samples: int,
                  steps: tuple[str, ...], raw_rounds: int, backend: str,
                  results: dict[str, Any], saved: Callable[[], None]) -> None:
    """Each step in its own process, its figures put in `results` and `saved()` called as
    it ends; the import always runs (it builds the ledger). `backend` names the database
    in the progress lines."""

    def arguments(step: str) -> tuple[str, ...]:
        if step == "commands":  # as at halfway through the import's write pass
            return (str(export.parent), reference(learners), results["import"]["midway"])
        return {"import": (str(export), str(raw_rounds)), "rebuild": (),
                "incremental": (str(extra),), "audit": (str(learners), str(samples)),
                "verify": ()}[step]

    for step in STEPS:
        if step == "import" or step in steps:
            results[step] = timed_step(backend, step, STEP_MODULES[step].DOING, url,
                                       *arguments(step))
            saved()


def timed_step(backend: str, step: str, doing: str, url: str, *arguments: str) -> dict[str, Any]:
    """A step run in its own process, with a progress line as it starts and ends."""
    say(f"{backend} {step}: {doing}...")
    started = time.perf_counter()
    result = run_child(step, url, *arguments)
    say(f"{backend} {step}: done in {time.perf_counter() - started:,.1f} s")
    return result


def bench_grown(url: str, folder: Path, learners: int, backend: str,
                every_command: bool) -> dict[str, Any]:
    """The grown-ledger mode on its own ledger, in its own process: with `every_command`
    (the commands step chosen) every end-to-end command, else the first report and the
    rebuild alone."""
    return timed_step(backend, "grown", grown.DOING, url, str(folder), str(learners),
                      reference(learners), "every" if every_command else "rebuild")


def fresh_ledger(backend: str, folder: Path, server: str, schema: str, mode: str) -> str:
    """The URL of a new, empty ledger for the mode: an SQLite file in the folder (an earlier
    run's removed) or a PostgreSQL schema (recreated; the grown mode's named `SCHEMA_grown`)."""
    suffix = "" if mode == "standard" else "_grown"
    if backend == "sqlite":
        db = folder / f"bench-ledger{suffix.replace('_', '-')}.db"
        remove_sqlite_file(db)  # an earlier run's ledger in the same folder
        return f"sqlite:///{db}"
    return fresh_postgres(server, schema + suffix)


def table(report: dict[str, Any]) -> str:
    start, end = report["host_speed_us"]
    (load_start, *_), (load_end, *_) = report["load"]
    lines = [f"ledger bench: {report['learners']:,} learners, {report['rows']:,} MIS rows, "
             f"{report['cpus']} CPUs",
             f"host speed: sum(range(1000)) in {start:.1f} us at the start, {end:.1f} us at the "
             "end (lower is faster)",
             f"host load: 1-minute load average {load_start:.2f} at the start, {load_end:.2f} "
             "at the end"]
    for backend, r in report["backends"].items():
        lines.append(f"\n{backend}")
        for step in STEPS:
            if step in r:
                lines += STEP_MODULES[step].lines(r[step], backend)
        if "grown" in r:
            lines += grown.lines(r["grown"], backend)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=100_000,
                        help="learners in the synthetic ledger (default 100,000)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both",
                        help="the databases to run on (default both)")
    parser.add_argument("--postgres", default=os.environ.get("LEDGER_BENCH_POSTGRES",
                                                             DEFAULT_POSTGRES),
                        help="the PostgreSQL server's SQLAlchemy URL (default "
                             "$LEDGER_BENCH_POSTGRES, else " + DEFAULT_POSTGRES + ")")
    parser.add_argument("--schema", default="bench_run",
                        help="PostgreSQL schema to (re)create for the run")
    parser.add_argument("--samples", type=int, default=200, help="learners for the audit")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the CSV files and the SQLite ledger (default: temp)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated steps to run after the import (default: all), "
                             "e.g. rebuild,verify for a quick run at N = 1,000,000")
    parser.add_argument("--raw-rounds", type=int, default=importing.RAW_ROUNDS,
                        help="rounds of the raw insert after the import (the ratio takes the "
                             "median round's rate; on SQLite as many again into the ledger's "
                             "own file, the earlier runs' baseline)")
    parser.add_argument("--mode", choices=("standard", "grown", "both"), default="both",
                        help="the ledger imported at once (standard), grown by monthly "
                             "imports (grown), or both (default)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    modes = MODES if args.mode == "both" else (args.mode,)
    steps = tuple(step.strip() for step in args.steps.split(",") if step.strip())
    if args.raw_rounds < 1:
        parser.error("--raw-rounds must be at least 1")
    if args.learners < 1 or args.samples < 1:
        parser.error("--learners and --samples must be at least 1")
    if args.workdir is not None and args.workdir.exists() and not args.workdir.is_dir():
        parser.error(f"--workdir {args.workdir} is a file, not a folder")
    if args.backend != "sqlite":
        problem = postgres_problem(args.postgres, args.schema)
        if problem:
            parser.error(problem)
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s) {', '.join(sorted(unknown))}; choose from "
                     f"{', '.join(STEPS)}")
    with work_folder(args.workdir) as folder:
        export, extra = folder / "bench-export.csv", folder / "bench-extra.csv"
        rows = 0
        if "standard" in modes:
            say(f"writing an MIS export of {args.learners:,} learners to {folder}...")
            rows = write_export(export, args.learners)
            write_export(extra, incremental.EXTRA_LEARNERS, prefix="X", seed=SEED + 1)
        report: dict[str, Any] = {"learners": args.learners, "rows": rows,
                                  "cpus": os.cpu_count(), "host_speed_us": [host_speed_us()],
                                  "load": [os.getloadavg()], "targets": TARGETS,
                                  "backends": {}}
        backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)

        def saved() -> None:  # a long run stopped early keeps the figures of its steps
            (folder / PARTIAL).write_text(json.dumps(report, indent=2))

        for backend in backends:
            results: dict[str, Any] = {}
            report["backends"][backend] = results
            for mode in modes:
                url = fresh_ledger(backend, folder, args.postgres, args.schema, mode)
                if mode == "standard":
                    bench_backend(url, export, extra, args.learners,
                                  min(args.samples, args.learners), steps, args.raw_rounds,
                                  backend, results, saved)
                else:
                    results["grown"] = bench_grown(url, folder, args.learners, backend,
                                                   "commands" in steps)
                    saved()
        report["host_speed_us"].append(host_speed_us())
        report["load"].append(os.getloadavg())
        saved()
    print(json.dumps(report, indent=2) if args.json else table(report))
    return report



if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
