"""Append cost with and without the hash chain, measured in the same run, in alternating rounds.

    PYTHONPATH=. python bench/append_chain.py [--saves N] [--rounds R] [--postgres URL]

Each save records one new learner (three events: the learner, its reference index and the
centre added to it) in one transaction, as `ledger learner add` does. Plain uses the library's
recorder; chained uses ours. Prints events/s for each and the ratio; target: chained within 15%.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from sqlalchemy import create_engine, text

from aggregates.learner import Context, Learner, LearnerReference
from ledger.storage.persistence import application_env
from ledger.storage.transcoding import DateAsISO

TARGET = 0.15
CTX = Context(actor="bench", source="bench")


class BenchLedger(Application):
    """The ledger's aggregates and transcoding on a chosen persistence module."""

    name = "Ledger"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def open_app(url: str, chained: bool) -> BenchLedger:
    env = application_env(url)
    if not chained:
        env["PERSISTENCE_MODULE"] = "eventsourcing_sqlalchemy"
    return BenchLedger(env=env)


def learners(prefix: str, count: int) -> list[tuple[Learner, LearnerReference]]:
    """New learners (and their reference index) ready to save, built before the clock starts."""
    built = []
    for number in range(count):
        reference = f"{prefix}-{number}"
        details = {"title": None, "given_name": "Ann", "family_name": "Lee",
                   "date_of_birth": date(2000, 1, 1), "gender": "2", "postcode": "LS1 4AP",
                   "email": None}
        learner = Learner.record("C1", reference, details, None, [], date(2025, 9, 1), CTX)
        index = LearnerReference(reference=reference)
        index.add_centre("C1")
        built.append((learner, index))
    return built


def timed_saves(app: BenchLedger, batch: list[tuple[Learner, LearnerReference]]) -> float:
    started = time.perf_counter()
    for learner, index in batch:
        app.save(learner, index)
    return time.perf_counter() - started


def measure(urls: dict[bool, str], saves: int, rounds: int) -> dict[bool, float]:
    """Events per second for plain (False) and chained (True), alternating who goes first."""
    apps = {chained: open_app(url, chained) for chained, url in urls.items()}
    for chained, app in apps.items():  # warm up: tables, connections, caches
        timed_saves(app, learners(f"warm{chained}", 20))
    elapsed = {False: 0.0, True: 0.0}
    for number in range(rounds):
        order = (False, True) if number % 2 == 0 else (True, False)
        for chained in order:
            batch = learners(f"r{number}{chained}", saves)
            elapsed[chained] += timed_saves(apps[chained], batch)
    for app in apps.values():
        app.close()
    return {chained: 3 * saves * rounds / seconds for chained, seconds in elapsed.items()}


def sqlite_urls(folder: Path) -> dict[bool, str]:
    return {chained: f"sqlite:///{folder / f'bench_{chained}.db'}" for chained in (False, True)}


def postgres_urls(server: str) -> dict[bool, str]:
    """Two fresh schemas on the server, ledger_bench_plain and ledger_bench_chained."""
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    urls = {}
    with engine.connect() as connection:
        for chained, schema in ((False, "ledger_bench_plain"), (True, "ledger_bench_chained")):
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            separator = "&" if "?" in server else "?"
            urls[chained] = f"{server}{separator}options=-csearch_path%3D{schema}"
    engine.dispose()
    return urls


def report(backend: str, rates: dict[bool, float]) -> bool:
    ratio = rates[True] / rates[False]
    within = ratio >= 1 - TARGET
    print(f"{backend:<10} plain {rates[False]:8.0f} events/s   chained {rates[True]:8.0f} events/s"
          f"   ratio {ratio:.3f}   cost {100 * (1 - ratio):+.1f}%   "
          f"{'within' if within else 'OVER'} {TARGET:.0%}")
    return within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=200, help="saves per round (3 events each)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure on this PostgreSQL server (uses two bench schemas)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        ok &= report("sqlite", measure(sqlite_urls(Path(folder)), args.saves, args.rounds))
    if args.postgres:
        ok &= report("postgresql", measure(postgres_urls(args.postgres), args.saves, args.rounds))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
