"""The import's storing on SQLite, part by part, against the raw insert of the same rows.

    python bench/storing.py [--learners 100000] [--rounds 3] [--workdir DIR] [--json]

The import's write pass is bound by its storing process. This bench gives that process's
database work alone, with no CSV, planning or encoding: batches of stored rows shaped as the
import's (per learner its events, states of the bench ledger's sizes, ids `uuid5`, and the
reference index's two events; 2,000 rows' worth a batch, one transaction each), made before
each clock starts (made again for every round, not held: at N = 100,000 they would take
half a gigabyte), then stored in a new ledger file by each of, in alternating rounds (each
timed to the end of the final checkpoint, as the import is):

- raw: a plain table with no index (`bench/run.py`'s raw insert);
- events: the ledger's events table (its unique aggregate-version index), by executemany;
- chained: the recorder's `insert_packed` (the events and their chain rows);
- storing: the import's `BatchWriter.write_stored` (events, chain rows, new learners' keys).

It prints each one's rows/s and its time over raw's: what each part adds, so an idea about
the stored format or SQLite's settings can be tried in seconds, not through a whole import.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BENCH_KEY, remove_sqlite_file  # noqa: E402
from bench.steps.importing import RAW_TABLE  # noqa: E402
from ledger.app import LedgerApp  # noqa: E402
from ledger.imports.writing import BatchWriter, StoredPlan  # noqa: E402
from ledger.integrity.chain import content_hash  # noqa: E402
from ledger.integrity.chained_recorder import PackedEvents  # noqa: E402
from ledger.storage.persistence import SQLITE_BULK_CACHE, checkpoint  # noqa: E402

LEARNERS_A_BATCH = 1_850  # the import's batches of 2,000 rows hold about this many learners
# (topic, state bytes) as the bench ledger stores them (bench/run.py at N = 100,000)
RECORDED = ("aggregates.learner:Learner.Recorded", 788)
ENROLLED = ("aggregates.learner:Learner.Enrolled", 547)
STEP = ("aggregates.learner:Learner.RegistrationSubmitted", 233)
INDEX = (("aggregates.learner:LearnerReference.Created", 161),
         ("aggregates.learner:LearnerReference.CentreAdded", 100))
INSERT = ("INSERT INTO {table} (originator_id, originator_version, topic, state) "
          "VALUES (?, ?, ?, ?)")
WAYS = ("raw", "events", "chained", "storing")
Save = Callable[[list[Any], list[str], list[Any]], None]  # stores a batch's rows, hashes, keys


def learner_events(number: int) -> list[tuple[str, int]]:
    """A learner's events (topic, state size): recorded, enrolled, then four or five steps
    (6.7 on average with the reference index's two, as the bench's export has them)."""
    return [RECORDED, ENROLLED] + [STEP] * (4 + number % 2)


def batches(learners: int) -> Iterator[tuple[list[tuple[Any, ...]], list[str], list[UUID]]]:
    """Each batch's driver rows, their content hashes (as `ledger verify` works them out) and
    its new learners' ids, the same every time they are made (the states' bytes are random,
    of the stored sizes)."""
    for start in range(0, learners, LEARNERS_A_BATCH):
        rows: list[tuple[Any, ...]] = []
        index: list[tuple[Any, ...]] = []
        ids = []
        for number in range(start, min(start + LEARNERS_A_BATCH, learners)):
            learner = uuid5(NAMESPACE_URL, f"bench-storing-learner-{number}")
            ids.append(learner)
            for version, (topic, size) in enumerate(learner_events(number), 1):
                rows.append((learner.bytes, version, topic, os.urandom(size)))
            reference = uuid5(NAMESPACE_URL, f"bench-storing-reference-{number}")
            index += [(reference.bytes, version, topic, os.urandom(size))
                      for version, (topic, size) in enumerate(INDEX, 1)]
        rows += index
        yield rows, [content_hash(UUID(bytes=row[0]), *row[1:]) for row in rows], ids


def key_rows(app: LedgerApp, way: str, ids: list[UUID]) -> list[dict[str, Any]]:
    """New keys for these learners, as the import's encoders make them for storing (only
    the storing way stores keys)."""
    if way != "storing":
        return []
    rows = app.keys.open_or_make(ids, OrderedDict())
    app.keys.forget(ids)
    return rows


def store(app: LedgerApp, way: str, driver: Any) -> Save:
    """How `way` stores one batch (its rows, their hashes, its new keys), in one transaction;
    `driver` is a driver connection to the ledger's file, for the ways by executemany."""
    if way in ("raw", "events"):
        driver.cursor().execute(SQLITE_BULK_CACHE)  # as the recorder's storing connection has it
        table = "bench_raw" if way == "raw" else "ledger_events"
        if way == "raw":
            driver.cursor().execute(RAW_TABLE["sqlite"])
            driver.commit()

        def by_executemany(rows: list[Any], _hashes: list[str], _keys: list[Any]) -> None:
            driver.cursor().executemany(INSERT.format(table=table), rows)
            driver.commit()

        return by_executemany
    if way == "chained":
        return lambda rows, hashes, _keys: app.chained_recorder.insert_packed(
            PackedEvents(rows, hashes))
    writer = BatchWriter(app)

    def storing(rows: list[Any], hashes: list[str], keys: list[Any]) -> None:
        if not writer.write_stored(StoredPlan(len(keys), PackedEvents(rows, hashes), keys)):
            raise SystemExit("the storing bench's batch was refused: its ledger was not new")

    return storing


def timed_round(folder: Path, way: str, learners: int) -> tuple[int, float]:
    """Rows stored and seconds spent storing them and checkpointing after (only that timed),
    in a new ledger."""
    path = folder / f"storing-{way}.db"
    remove_sqlite_file(path)
    app = LedgerApp(f"sqlite:///{path}")
    stored, seconds = 0, 0.0
    try:
        with closing(app.engine.raw_connection()) as driver:
            save = store(app, way, driver)
            for rows, hashes, ids in batches(learners):
                keys = key_rows(app, way, ids)
                started = time.perf_counter()
                save(rows, hashes, keys)
                seconds += time.perf_counter() - started
                stored += len(rows)
        started = time.perf_counter()
        checkpoint(app.engine)  # as the import ends
        seconds += time.perf_counter() - started
    finally:
        app.close()
        remove_sqlite_file(path)
    return stored, seconds


def measure(folder: Path, learners: int, rounds: int) -> dict[str, Any]:
    """Each way's median seconds over the rounds (the order turned round each round)."""
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    rows = 0
    for number in range(rounds):
        for way in WAYS if number % 2 == 0 else tuple(reversed(WAYS)):
            rows, spent = timed_round(folder, way, learners)
            seconds[way].append(spent)
    medians = {way: statistics.median(spent) for way, spent in seconds.items()}
    return {"learners": learners, "rows": rows, "rounds": rounds, "cpus": os.cpu_count(),
            "ways": {way: {"seconds": medians[way], "rows_per_second": rows / medians[way],
                           "over_raw": medians[way] / medians["raw"],
                           "rounds_seconds": seconds[way]} for way in WAYS}}


def show(result: dict[str, Any]) -> None:
    print(f"ledger storing bench (SQLite): {result['learners']:,} learners, "
          f"{result['rows']:,} rows, the median of {result['rounds']} round(s), "
          f"{result['cpus']} CPUs")
    for way, figures in result["ways"].items():
        print(f"  {way:<8} {figures['rows_per_second']:>10,.0f} rows/s  "
              f"{figures['seconds']:6.2f} s  {figures['over_raw']:5.2f}x raw")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each way (median)")
    parser.add_argument("--workdir", type=Path,
                        help="folder for the ledger files, made if missing (default: a "
                             "temporary one); each file is deleted after its round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.learners < 1 or args.rounds < 1:
        parser.error("--learners and --rounds must be at least 1")
    os.environ.setdefault("LEDGER_MASTER_KEY", BENCH_KEY)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        result = measure(Path(folder), args.learners, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)
    return result


if __name__ == "__main__":
    main()
