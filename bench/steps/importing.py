"""The import step: `ledger import`'s code path over the export, and the raw insert of the
same stored rows into a plain table, the baseline its rate is judged against. Its rate counts
learner events, as the CLI reports them; the reference index's events are printed beside."""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.common import (
    TARGETS,
    cpu_seconds,
    event_count,
    open_app,
    peak_mb,
    remove_sqlite_file,
    verdict,
)
from ledger.bulk.progress import NoProgress
from ledger.storage.bulk_writes import copy_stream
from ledger.storage.persistence import (
    SQLITE_BULK_CACHE,
    checkpoint,
    configure_sqlite,
    enter_sqlite_wal_mode,
)

DOING = "importing the export, then the raw insert's rounds"
RAW_TABLE = {  # the raw insert's plain table: the events' columns, no index
    "sqlite": "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, originator_id BLOB, "
              "originator_version INTEGER, topic TEXT, state BLOB)",
    "postgresql": "CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, originator_id UUID, "
                  "originator_version INTEGER, topic TEXT, state BYTEA)",
}


RAW_FILE = "bench-raw.db"  # the raw insert's own SQLite file, beside the ledger's
DEFAULTS_FILE = "bench-defaults.db"  # the plain executemany's file, at SQLite's defaults


RAW_ROUNDS = 3  # raw inserts after the import: the ratio takes the median round's rate



class PassClock(NoProgress):
    """A progress sink that times the import's passes (the check, then the write), in wall
    seconds and in CPU seconds of this process and of the workers it waited for."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []
        self.moments: list[datetime] = []

    def start(self, phase: str, total: int) -> None:
        self.marks.append((phase, time.perf_counter(), cpu_seconds()))
        self.moments.append(datetime.now(UTC))

    def midway(self, ended: float) -> datetime:
        """The moment halfway through the last pass (the write pass, ending at `ended`): an
        `--as-at` that holds about half the import's events."""
        _, wall, _ = self.marks[-1]
        return self.moments[-1] + timedelta(seconds=(ended - wall) / 2)

    def passes(self, ended: float, ended_cpu: float) -> dict[str, dict[str, float]]:
        """{phase: {"seconds", "cpu_seconds"}} for each pass, the last ending at `ended`."""
        ends = [(wall, cpu) for _, wall, cpu in self.marks[1:]] + [(ended, ended_cpu)]
        return {phase.lower(): {"seconds": end - wall, "cpu_seconds": end_cpu - cpu}
                for (phase, wall, cpu), (end, end_cpu) in zip(self.marks, ends, strict=True)}


def measure(url: str, path: str, raw_rounds: int = RAW_ROUNDS) -> dict[str, Any]:
    from ledger.imports.runner import ImportOptions, import_csv
    app = open_app(url)
    before = event_count(app)
    clock = PassClock()
    started = time.perf_counter()
    summary = import_csv(app, path, ImportOptions(actor="bench"), clock)
    finished = time.perf_counter()
    seconds = finished - started
    passes = clock.passes(finished, cpu_seconds())
    peak = peak_mb()
    midway = clock.midway(finished)
    events = event_count(app) - before
    # the import stores each batch in one transaction (a fresh ledger: every batch has events)
    per_transaction = -(-events // max(summary.batches, 1))
    # the raw insert's rate moves with the disk's syncs from one round to the next
    raw_rounds_timed = [raw_insert(app, before, per_transaction) for _ in range(raw_rounds)]
    whole = [inserting + checkpointing for inserting, checkpointing in raw_rounds_timed]
    raw_seconds = statistics.median(whole)
    result = {"rows": summary.rows, "events": events, "learner_events": summary.events,
              "index_events": events - summary.events, "seconds": seconds,
              "rate": summary.events / seconds, "stored_rate": events / seconds,
              "batches": summary.batches, "midway": midway.isoformat(),
              "raw_seconds": raw_seconds, "raw_rate": events / raw_seconds,
              "raw_rates": [events / round_seconds for round_seconds in whole]}
    # import ÷ raw insert, of the same stored rows: the raw insert's time over the import's
    result["raw_fraction"] = result["stored_rate"] / result["raw_rate"]
    if app.engine.dialect.name == "sqlite":  # the earlier runs' baselines, for comparison
        inserting_only = [events / inserting for inserting, _ in raw_rounds_timed]
        result["raw_checkpoint_seconds"] = [checkpointing for _, checkpointing in raw_rounds_timed]
        result["raw_no_checkpoint_rates"] = inserting_only
        result["raw_no_checkpoint_rate"] = statistics.median(inserting_only)
        result["raw_no_checkpoint_fraction"] = (result["stored_rate"]
                                                / result["raw_no_checkpoint_rate"])
        in_ledger = [events / raw_insert(app, before, per_transaction, own_file=False)[0]
                     for _ in range(raw_rounds)]
        result["raw_in_ledger_rates"] = in_ledger
        result["raw_in_ledger_rate"] = statistics.median(in_ledger)
        at_defaults = [events / defaults_insert(app, before, per_transaction)
                       for _ in range(raw_rounds)]
        result["raw_defaults_rates"] = at_defaults
        result["raw_defaults_rate"] = statistics.median(at_defaults)
    return {**result, "peak_mb": peak, "passes": passes, "reports_phase": reports_phase(app)}


def reports_phase(app: Any) -> dict[str, float]:
    """What `ledger import` does after its write pass, timed: the report tables and the
    kept report rows brought up to date (so that the commands step's first report after the
    import costs what it costs a user after `ledger import`)."""
    from cli.importing import bring_reports_up_to_date_after_import
    from ledger.bulk.progress import NoProgress
    from ledger.rules.rulesets import default_rulebook

    started, started_cpu = time.perf_counter(), cpu_seconds()
    bring_reports_up_to_date_after_import(app, default_rulebook(), NoProgress())
    return {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - started_cpu}


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
            cursor = sink.cursor()
            for values in _pages(source, after, page_rows):
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


def defaults_insert(app: Any, after: int, page_rows: int) -> float:
    """Seconds to insert the stored event rows after position `after` into a plain table
    in a new SQLite file left at SQLite's defaults (a rollback journal, full syncs, the
    default page cache), by `executemany`, a transaction per `page_rows` rows as the import
    stored them; each commit puts its rows in the file, so no checkpoint follows."""
    path = Path(app.engine.url.database).with_name(DEFAULTS_FILE)
    remove_sqlite_file(path)
    source = app.engine.raw_connection()
    sink = sqlite3.connect(path)
    seconds = 0.0
    try:
        sink.execute(RAW_TABLE["sqlite"])
        sink.commit()
        for values in _pages(source, after, page_rows):
            started = time.perf_counter()
            sink.executemany("INSERT INTO bench_raw (originator_id, originator_version, topic, "
                             "state) VALUES (?, ?, ?, ?)", values)
            sink.commit()
            seconds += time.perf_counter() - started
    finally:
        sink.close()
        source.close()
        remove_sqlite_file(path)
    return seconds


def _pages(source: Any, after: int, page_rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """The stored event rows after position `after`, `page_rows` at a time, as values to
    insert (read before the caller's clock starts on each)."""
    reader = source.cursor()
    while True:
        reader.execute(
            "SELECT id, originator_id, originator_version, topic, state FROM "
            f"ledger_events WHERE id > {int(after)} ORDER BY id LIMIT {int(page_rows)}")
        page = reader.fetchall()
        if not page:
            return
        after = page[-1][0]
        source.commit()
        yield [(row[1], row[2], row[3], bytes(row[4])) for row in page]


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


def lines(imp: dict[str, Any], backend: str) -> list[str]:
    target = TARGETS[f"import_{backend}"]
    rates = imp["raw_rates"]
    where = "in a new file, " if backend == "sqlite" else ""
    until = ", to the end of its checkpoint as the import's" if backend == "sqlite" else ""
    return [
        f"  import          {imp['rate']:>10,.0f} learner events/s  ({imp['learner_events']:,} "
        f"learner events, as the CLI counts them, and {imp['index_events']:,} index events: "
        f"{imp['events']:,} stored in {imp['seconds']:.1f} s, {imp['stored_rate']:,.0f} "
        f"stored/s; target >= {target:,} learner events/s: {verdict(imp['rate'] >= target)})",
        f"  raw insert      {imp['raw_rate']:>10,.0f} rows/s    import/raw = "
        f"{imp['raw_fraction']:.3f} (target >= {TARGETS['import_raw_fraction']:.3f}: "
        f"{verdict(imp['raw_fraction'] >= TARGETS['import_raw_fraction'])}; "
        f"{where}in as many transactions as the import's {imp['batches']:,} "
        f"batch(es){until}; the median of {len(rates)} round(s))",
        f"  raw rounds      {min(rates):>10,.0f} to {max(rates):,.0f} rows/s, import/raw "
        f"{imp['stored_rate'] / max(rates):.3f} to {imp['stored_rate'] / min(rates):.3f}",
        *([f"  raw, no checkpoint{imp['raw_no_checkpoint_rate']:>8,.0f} rows/s    import/raw = "
           f"{imp['raw_no_checkpoint_fraction']:.3f} (the baseline of the runs "
           "before 2026-12-07: its inserts and commits only, its rows left in the "
           "write-ahead log; checkpoints "
           f"{', '.join(f'{spent:.2f}' for spent in imp['raw_checkpoint_seconds'])} s)"]
          if "raw_no_checkpoint_rate" in imp else []),
        *([f"  raw, ledger file{imp['raw_in_ledger_rate']:>10,.0f} rows/s    import/raw = "
           f"{imp['stored_rate'] / imp['raw_in_ledger_rate']:.3f} (the baseline of earlier "
           "runs: a table in the ledger's file, whose later rounds reuse the pages freed "
           "before)"] if "raw_in_ledger_rate" in imp else []),
        *([f"  raw, defaults   {imp['raw_defaults_rate']:>10,.0f} rows/s    import/raw = "
           f"{imp['stored_rate'] / imp['raw_defaults_rate']:.3f} (plain executemany into a "
           "new file at SQLite's defaults: rollback journal, full syncs, default cache; "
           f"{', '.join(f'{rate:,.0f}' for rate in imp['raw_defaults_rates'])} rows/s)"]
          if "raw_defaults_rate" in imp else []),
        f"  import memory   {imp['peak_mb']:>10,.0f} MB peak",
        *[f"  {phase:<15} {timed['seconds']:>10.1f} s         ({timed['cpu_seconds']:.1f} CPU "
          "seconds in all processes)" for phase, timed in imp["passes"].items()],
        *([f"  reports phase   {imp['reports_phase']['seconds']:>10.1f} s         "
           f"({imp['reports_phase']['cpu_seconds']:.1f} CPU seconds in all processes; what "
           "`ledger import` does after its write pass: the report tables and rows brought up "
           "to date, not counted in the import's rate)"] if "reports_phase" in imp else []),
    ]

