"""The ledger at awarding-body scale: import, rebuild, incremental report, audit and verify.

    python bench/run.py [--learners 100000] [--backend sqlite|postgres|both] [--json]
                        [--steps import,rebuild,incremental,audit,verify]
                        [--postgres URL] [--schema bench_run] [--workdir DIR]
                        [--samples 200] [--raw-rounds 3]

Generates a synthetic MIS export of N learners (the demo centre's generator, about 8 events a
learner with the reference index), then for each backend, each step in its own process:

- import: `ledger import`'s code path (ledger.imports.import_csv), events/s, and the wall and
  CPU seconds of its two passes (checking, importing); in the same run
  a raw executemany (SQLite) / COPY (PostgreSQL) of the same stored rows into a plain table
  (on SQLite in a new file, as the import's ledger was new), in as many transactions as the
  import stored them in, and on SQLite checkpointed after, as the import is, --raw-rounds
  times (its rate varies with the disk from one round to the next), and the ratio of the
  import's rate to the median round's, with the spread over the rounds (and, for comparison
  with earlier runs, on SQLite the rounds' rates without their checkpoints, and the same
  rounds into a table in the ledger's own file);
- rebuild: `ledger rebuild` of the report projection (the reports' one materialised table),
  learner events/s, and its peak memory: of all its processes together (the sum of their
  proportional set sizes, sampled every 0.2 s; Linux), and the largest process's peak RSS;
- incremental: catching the reports up after at least 1,000 new events (an import of new
  learners), seconds;
- audit: one learner's trail as `ledger audit REF` builds it, median and 95th percentile ms
  over random learners;
- verify: `ledger verify`, events/s (one process per core on a large ledger).

`--steps` picks the steps after the import (which always runs: it builds the ledger).

The run also times a fixed piece of pure Python (`sum(range(1000))`, best of 5) at its start
and its end: the host's speed at the time, since the same machine, or another of its kind,
can be twice as fast on one day as on another, and every figure moves with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import ArgumentError, DBAPIError  # noqa: E402

from bench.memory import TreePeak  # noqa: E402
from ledger.bulk.progress import NoProgress  # noqa: E402
from ledger.demo import CentreGenerator  # noqa: E402
from ledger.imports.layouts import MIS_EXPORT  # noqa: E402
from ledger.storage.bulk_writes import copy_stream  # noqa: E402
from ledger.storage.persistence import (  # noqa: E402
    SQLITE_BULK_CACHE,
    checkpoint,
    configure_sqlite,
    enter_sqlite_wal_mode,
)

DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
BENCH_KEY = "YmVuY2gtbWFzdGVyLWtleS1ub3QtZm9yLXByb2QtdXM="
RAW_TABLE = {  # the raw insert's plain table: the events' columns, no index
    "sqlite": "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, originator_id BLOB, "
              "originator_version INTEGER, topic TEXT, state BLOB)",
    "postgresql": "CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, originator_id UUID, "
                  "originator_version INTEGER, topic TEXT, state BYTEA)",
}
SEED = 2026
EXTRA_LEARNERS = 175  # the incremental report's: 1,150 to 1,280 new events, by the date
RAW_FILE = "bench-raw.db"  # the raw insert's own SQLite file, beside the ledger's
RAW_ROUNDS = 3  # raw inserts after the import: the ratio takes the median round's rate
TARGETS = {
    "import_sqlite": 30_000, "import_postgres": 15_000, "import_raw_fraction": 1 / 8,
    "rebuild": 100_000, "incremental_s": 0.5, "audit_median_ms": 10.0, "rebuild_peak_mb": 300,
    "verify": 200_000,
}


# ----- the synthetic centre -------------------------------------------------------------------

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


# ----- steps, each run in a child process -----------------------------------------------------

def _app(url: str) -> Any:
    from ledger.app import LedgerApp
    return LedgerApp(url)


def _event_count(app: Any) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one())


class PassClock(NoProgress):
    """A progress sink that times the import's passes (the check, then the write), in wall
    seconds and in CPU seconds of this process and of the workers it waited for."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []

    def start(self, phase: str, total: int) -> None:
        self.marks.append((phase, time.perf_counter(), _cpu_seconds()))

    def passes(self, ended: float, ended_cpu: float) -> dict[str, dict[str, float]]:
        """{phase: {"seconds", "cpu_seconds"}} for each pass, the last ending at `ended`."""
        ends = [(wall, cpu) for _, wall, cpu in self.marks[1:]] + [(ended, ended_cpu)]
        return {phase.lower(): {"seconds": end - wall, "cpu_seconds": end_cpu - cpu}
                for (phase, wall, cpu), (end, end_cpu) in zip(self.marks, ends, strict=True)}


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process and of its children that have ended."""
    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def step_import(url: str, path: str, raw_rounds: int = RAW_ROUNDS) -> dict[str, Any]:
    from ledger.imports.runner import ImportOptions, import_csv
    app = _app(url)
    before = _event_count(app)
    clock = PassClock()
    started = time.perf_counter()
    summary = import_csv(app, path, ImportOptions(actor="bench"), clock)
    finished = time.perf_counter()
    seconds = finished - started
    passes = clock.passes(finished, _cpu_seconds())
    peak = peak_mb()
    events = _event_count(app) - before
    # the import stores each batch in one transaction (a fresh ledger: every batch has events)
    per_transaction = -(-events // max(summary.batches, 1))
    # the raw insert's rate moves with the disk's syncs from one round to the next
    raw_rounds_timed = [raw_insert(app, before, per_transaction) for _ in range(raw_rounds)]
    whole = [inserting + checkpointing for inserting, checkpointing in raw_rounds_timed]
    raw_seconds = statistics.median(whole)
    result = {"rows": summary.rows, "events": events, "learner_events": summary.events,
              "seconds": seconds, "rate": events / seconds, "batches": summary.batches,
              "raw_seconds": raw_seconds, "raw_rate": events / raw_seconds,
              "raw_rates": [events / round_seconds for round_seconds in whole]}
    result["raw_fraction"] = result["rate"] / result["raw_rate"]  # import ÷ raw insert
    if app.engine.dialect.name == "sqlite":  # the earlier runs' baselines, for comparison
        inserting_only = [events / inserting for inserting, _ in raw_rounds_timed]
        result["raw_checkpoint_seconds"] = [checkpointing for _, checkpointing in raw_rounds_timed]
        result["raw_no_checkpoint_rates"] = inserting_only
        result["raw_no_checkpoint_rate"] = statistics.median(inserting_only)
        result["raw_no_checkpoint_fraction"] = result["rate"] / result["raw_no_checkpoint_rate"]
        in_ledger = [events / raw_insert(app, before, per_transaction, own_file=False)[0]
                     for _ in range(raw_rounds)]
        result["raw_in_ledger_rates"] = in_ledger
        result["raw_in_ledger_rate"] = statistics.median(in_ledger)
    return {**result, "peak_mb": peak, "passes": passes}


def raw_insert(app: Any, after: int, page_rows: int,
               own_file: bool = True) -> tuple[float, float]:
    """Seconds to insert the stored event rows after position `after` again into a plain
    table, and seconds to checkpoint them after (SQLite in its own file; else 0).

    The rows are read a page of `page_rows` at a time (untimed), and each page is inserted
    and committed (timed): with the import's rows per transaction, as many transactions as
    the import. On SQLite the table is in a new file beside the ledger's (`own_file`), set
    up as the ledger's connections are, since the import's ledger was new too, and its
    write-ahead log is checkpointed after the last commit, as the import ends: both times
    run until the rows are in the database file. `own_file=False`, the earlier runs'
    baseline, puts the table in the ledger's own file, with no checkpoint, as those runs
    measured it; from the second round on it reuses the pages the round before freed,
    which is faster than growing a file as the import did.
    """
    engine = app.engine
    sqlite = engine.dialect.name == "sqlite"
    source = engine.raw_connection()
    seconds = 0.0
    try:
        with _raw_table(engine, own_file) as (sink, sink_engine):
            reader, cursor = source.cursor(), sink.cursor()
            while True:
                reader.execute(
                    "SELECT id, originator_id, originator_version, topic, state FROM "
                    f"ledger_events WHERE id > {int(after)} ORDER BY id LIMIT {int(page_rows)}")
                page = reader.fetchall()
                if not page:
                    break
                after = page[-1][0]
                values = [(row[1], row[2], row[3], bytes(row[4])) for row in page]
                source.commit()
                started = time.perf_counter()
                if sqlite:
                    cursor.executemany("INSERT INTO bench_raw (originator_id, "
                                       "originator_version, topic, state) VALUES (?, ?, ?, ?)",
                                       values)
                else:
                    buffer = copy_stream(  # as the ledger's COPYs are sent
                        f"{originator}\t{version}\t{topic}\t\\\\x{state.hex()}\n"
                        for originator, version, topic, state in values)
                    cursor.copy_expert("COPY bench_raw (originator_id, originator_version, "
                                       "topic, state) FROM STDIN", buffer)
                sink.commit()
                seconds += time.perf_counter() - started
            checkpointing = 0.0
            if sqlite and own_file:  # as the import ends
                started = time.perf_counter()
                checkpoint(sink_engine)
                checkpointing = time.perf_counter() - started
    finally:
        source.close()
    return seconds, checkpointing


@contextmanager
def _raw_table(engine: Any, own_file: bool) -> Iterator[tuple[Any, Any]]:
    """A driver connection holding a new, empty plain table `bench_raw`, dropped after,
    and its engine.

    SQLite with `own_file`: in a new database file beside the ledger's (WAL, its checkpoint
    interval, the storing connection's page cache, as the ledger has them), deleted after.
    """
    sqlite = engine.dialect.name == "sqlite"
    path = Path(engine.url.database).with_name(RAW_FILE) if sqlite and own_file else None
    if path is not None:
        remove_sqlite_file(path)
        url = f"sqlite:///{path}"
        enter_sqlite_wal_mode(url)
        engine = create_engine(url)
        configure_sqlite(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_raw"))
        connection.execute(text(RAW_TABLE[engine.dialect.name]))
    sink = engine.raw_connection()
    try:
        if sqlite:  # as the import's storing connection has it
            sink.cursor().execute(SQLITE_BULK_CACHE)
        yield sink, engine
        if path is None:
            sink.cursor().execute("DROP TABLE bench_raw")
            sink.commit()
    finally:
        sink.close()
        if path is not None:
            engine.dispose()
            remove_sqlite_file(path)


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


def step_rebuild(url: str) -> dict[str, Any]:
    from ledger.bulk.workers import worker_count
    from ledger.reporting.rebuild import rebuild
    from ledger.reporting.reports import last_position, open_view
    app = _app(url)
    view = open_view(app)
    with TreePeak() as memory:
        started = time.perf_counter()
        events = rebuild(app, view)
        seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "rate": events / seconds,
            "peak_mb": peak_mb(), "peak_total_mb": memory.peak_mb,
            "workers": worker_count(app.engine, last_position(app))}


def step_incremental(url: str, path: str) -> dict[str, Any]:
    from ledger.imports.runner import ImportOptions, import_csv
    from ledger.reporting.reports import catch_up, open_view
    app = _app(url)
    view = open_view(app)
    catch_up(app, view)
    import_csv(app, path, ImportOptions(actor="bench"))
    started = time.perf_counter()
    events = catch_up(app, view)
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds}


def step_audit(url: str, learners: int, samples: int) -> dict[str, Any]:
    from projections.audit import audit_rows
    app = _app(url)
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


def step_verify(url: str) -> dict[str, Any]:
    from ledger.bulk.workers import worker_count
    from ledger.integrity.verify import verify_ledger
    app = _app(url)
    started = time.perf_counter()
    result = verify_ledger(app)
    seconds = time.perf_counter() - started
    assert result.ok, result.problem
    return {"events": result.events, "seconds": seconds, "rate": result.events / seconds,
            "workers": worker_count(app.engine, result.events)}


def peak_mb() -> float:
    """The peak resident set size in MB of this process or of any worker it started and
    waited for, whichever is larger (ru_maxrss is in KiB on Linux)."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def child(arguments: list[str]) -> None:
    step, url, *rest = arguments
    result: dict[str, Any]
    if step == "import":
        result = step_import(url, rest[0], int(rest[1]))
    elif step == "rebuild":
        result = step_rebuild(url)
    elif step == "incremental":
        result = step_incremental(url, rest[0])
    elif step == "audit":
        result = step_audit(url, int(rest[0]), int(rest[1]))
    else:
        result = step_verify(url)
    print(json.dumps(result))


def run_child(*arguments: str) -> dict[str, Any]:
    env = {**os.environ, "LEDGER_MASTER_KEY": os.environ.get("LEDGER_MASTER_KEY", BENCH_KEY)}
    env.pop("LEDGER_MASTER_KEY_FILE", None)
    done = subprocess.run([sys.executable, __file__, "--child", *arguments], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench step {arguments[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ----- the run --------------------------------------------------------------------------------

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


STEPS = ("import", "rebuild", "incremental", "audit", "verify")


def bench_backend(url: str, export: Path, extra: Path, learners: int, samples: int,
                  steps: tuple[str, ...], raw_rounds: int, backend: str) -> dict[str, Any]:
    """Each step in its own process; the import always runs (it builds the ledger).
    `backend` names the database in the progress lines."""
    arguments = {"import": (str(export), str(raw_rounds)), "rebuild": (),
                 "incremental": (str(extra),), "audit": (str(learners), str(samples)),
                 "verify": ()}
    results = {}
    for step in STEPS:
        if step == "import" or step in steps:
            say(f"{backend} {step}: {STEP_DOING[step]}...")
            started = time.perf_counter()
            results[step] = run_child(step, url, *arguments[step])
            say(f"{backend} {step}: done in {time.perf_counter() - started:,.1f} s")
    return results


# what each step does, for the progress lines on stderr
STEP_DOING = {
    "import": "importing the export, then the raw insert's rounds",
    "rebuild": "rebuilding the reports",
    "incremental": "importing the new learners and catching the reports up",
    "audit": "building random learners' audit trails",
    "verify": "verifying the chain",
}


def say(message: str) -> None:
    """A progress line on stderr (stdout holds the results: a table, or JSON)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _import_lines(imp: dict[str, Any], backend: str) -> list[str]:
    target = TARGETS[f"import_{backend}"]
    rates = imp["raw_rates"]
    where = "in a new file, " if backend == "sqlite" else ""
    until = ", to the end of its checkpoint as the import's" if backend == "sqlite" else ""
    return [
        f"  import          {imp['rate']:>10,.0f} events/s  ({imp['events']:,} stored events in "
        f"{imp['seconds']:.1f} s; target >= {target:,}: {verdict(imp['rate'] >= target)})",
        f"  raw insert      {imp['raw_rate']:>10,.0f} rows/s    import/raw = "
        f"{imp['raw_fraction']:.3f} (target >= {TARGETS['import_raw_fraction']:.3f}: "
        f"{verdict(imp['raw_fraction'] >= TARGETS['import_raw_fraction'])}; "
        f"{where}in as many transactions as the import's {imp['batches']:,} "
        f"batch(es){until}; the median of {len(rates)} round(s))",
        f"  raw rounds      {min(rates):>10,.0f} to {max(rates):,.0f} rows/s, import/raw "
        f"{imp['rate'] / max(rates):.3f} to {imp['rate'] / min(rates):.3f}",
        *([f"  raw, no checkpoint{imp['raw_no_checkpoint_rate']:>8,.0f} rows/s    import/raw = "
           f"{imp['raw_no_checkpoint_fraction']:.3f} (the baseline of the runs "
           "before 2026-12-07: its inserts and commits only, its rows left in the "
           "write-ahead log; checkpoints "
           f"{', '.join(f'{spent:.2f}' for spent in imp['raw_checkpoint_seconds'])} s)"]
          if "raw_no_checkpoint_rate" in imp else []),
        *([f"  raw, ledger file{imp['raw_in_ledger_rate']:>10,.0f} rows/s    import/raw = "
           f"{imp['rate'] / imp['raw_in_ledger_rate']:.3f} (the baseline of earlier runs: a "
           "table in the ledger's file, whose later rounds reuse the pages freed before)"]
          if "raw_in_ledger_rate" in imp else []),
        f"  import memory   {imp['peak_mb']:>10,.0f} MB peak",
        *[f"  {phase:<15} {timed['seconds']:>10.1f} s         ({timed['cpu_seconds']:.1f} CPU "
          "seconds in all processes)" for phase, timed in imp["passes"].items()],
    ]


def _rebuild_lines(reb: dict[str, Any], backend: str) -> list[str]:
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


def _incremental_lines(inc: dict[str, Any], backend: str) -> list[str]:
    target = TARGETS["incremental_s"]
    return [f"  incremental     {inc['seconds']:>10.3f} s         (the reports caught up after "
            f"{inc['events']:,} new learner events; target < {target} s: "
            f"{verdict(inc['seconds'] < target)})"]


def _audit_lines(aud: dict[str, Any], backend: str) -> list[str]:
    target = TARGETS["audit_median_ms"]
    return [f"  audit           {aud['median_ms']:>10.1f} ms median, {aud['p95_ms']:.1f} ms p95 "
            f"({aud['samples']} learners; target median < {target} ms: "
            f"{verdict(aud['median_ms'] < target)})"]


def _verify_lines(ver: dict[str, Any], backend: str) -> list[str]:
    return [f"  verify          {ver['rate']:>10,.0f} events/s  ({ver['events']:,} stored events "
            f"in {ver['seconds']:.1f} s, {ver['workers']} process(es); "
            f"target >= {TARGETS['verify']:,}: {verdict(ver['rate'] >= TARGETS['verify'])})"]


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


STEP_LINES = {"import": _import_lines, "rebuild": _rebuild_lines,
              "incremental": _incremental_lines, "audit": _audit_lines, "verify": _verify_lines}


def table(report: dict[str, Any]) -> str:
    start, end = report["host_speed_us"]
    lines = [f"ledger bench: {report['learners']:,} learners, {report['rows']:,} MIS rows, "
             f"{report['cpus']} CPUs",
             f"host speed: sum(range(1000)) in {start:.1f} us at the start, {end:.1f} us at the "
             "end (lower is faster)"]
    for backend, r in report["backends"].items():
        lines.append(f"\n{backend}")
        for step in STEPS:
            if step in r:
                lines += STEP_LINES[step](r[step], backend)
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
    parser.add_argument("--raw-rounds", type=int, default=RAW_ROUNDS,
                        help="rounds of the raw insert after the import (the ratio takes the "
                             "median round's rate; on SQLite as many again into the ledger's "
                             "own file, the earlier runs' baseline)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
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
        say(f"writing an MIS export of {args.learners:,} learners to {folder}...")
        rows = write_export(export, args.learners)
        write_export(extra, EXTRA_LEARNERS, prefix="X", seed=SEED + 1)
        report: dict[str, Any] = {"learners": args.learners, "rows": rows,
                                  "cpus": os.cpu_count(), "host_speed_us": [host_speed_us()],
                                  "targets": TARGETS, "backends": {}}
        backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
        for backend in backends:
            if backend == "sqlite":
                db = folder / "bench-ledger.db"
                remove_sqlite_file(db)  # an earlier run's ledger in the same folder
                url = f"sqlite:///{db}"
            else:
                url = fresh_postgres(args.postgres, args.schema)
            report["backends"][backend] = bench_backend(
                url, export, extra, args.learners, min(args.samples, args.learners), steps,
                args.raw_rounds, backend)
        report["host_speed_us"].append(host_speed_us())
    print(json.dumps(report, indent=2) if args.json else table(report))
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
