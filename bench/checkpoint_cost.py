"""What automatic signed checkpoints cost a recording command, in alternating rounds of one run.

    PYTHONPATH=. python bench/checkpoint_cost.py [--saves N] [--rounds R]
                                                 [--postgres URL --schema NAME]

Each save is `LedgerApp.add_learner` (three events in one transaction, as `ledger learner add`
records them) on one ledger, with automatic checkpoints off, then every 1,000 events (the
default), then after every save (LEDGER_CHECKPOINT_EVERY=1, the worst case: a head query, an
Ed25519 signature and an fsync'd append per save). Prints events/s of each and its ratio to
"off"; with every 1,000 events the cost should be within the noise.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from aggregates.learner import Context
from bench.common import BENCH_KEY
from bench.run import SCHEMA_NAME, fresh_postgres
from ledger.app import LedgerApp
from ledger.integrity.checkpoints import AutoCheckpoints
from ledger.integrity.signing import new_signing_key, write_signing_key

CTX = Context(actor="bench", source="bench")
MODES = {"off": None, "every 1000": 1000, "every save": 1}


def timed_saves(app: LedgerApp, prefix: str, count: int) -> float:
    started = time.perf_counter()
    for number in range(count):
        app.add_learner(CTX, "C1", f"{prefix}-{number}", given_name="Ann", family_name="Lee",
                        date_of_birth="2000-01-01", gender="2")
    return time.perf_counter() - started


def measure(url: str, folder: Path, saves: int, rounds: int) -> dict[str, float]:
    key = folder / "bench-signing.pem"
    write_signing_key(key, new_signing_key())
    app = LedgerApp(url)
    elapsed = dict.fromkeys(MODES, 0.0)
    try:
        timed_saves(app, "warm", 20)
        for number in range(rounds):
            names = list(MODES) if number % 2 == 0 else list(reversed(MODES))
            for name in names:
                every = MODES[name]
                app.checkpoints = AutoCheckpoints(key if every else None,
                                                  folder / "bench.checkpoints", every or 1)
                prefix = f"r{number}-{name.replace(' ', '')}"
                elapsed[name] += timed_saves(app, prefix, saves)
    finally:
        app.close()
    return {name: 3 * saves * rounds / seconds for name, seconds in elapsed.items()}


def report(backend: str, rates: dict[str, float]) -> None:
    base = rates["off"]
    for name, rate in rates.items():
        print(f"{backend:<10} checkpoints {name:<11} {rate:8.0f} events/s   "
              f"ratio to off {rate / base:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=100, help="saves per round and mode")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--postgres", metavar="URL", help="also measure on this server")
    parser.add_argument("--schema", default="ledger_bench_checkpoints",
                        help="the PostgreSQL schema to use (dropped and made again)")
    args = parser.parse_args()
    if args.saves < 1 or args.rounds < 1:
        raise SystemExit("--saves and --rounds must be 1 or more")
    os.environ.setdefault("LEDGER_MASTER_KEY", BENCH_KEY)  # a server ledger has no key file
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        report("sqlite", measure(f"sqlite:///{folder / 'bench.db'}", folder, args.saves,
                                 args.rounds))
        if args.postgres:
            if not SCHEMA_NAME.fullmatch(args.schema):
                raise SystemExit(f"--schema {args.schema!r} is not a plain name")
            own = folder / "postgresql"  # its own signing key and checkpoint logs
            own.mkdir()
            report("postgresql", measure(fresh_postgres(args.postgres, args.schema), own,
                                         args.saves, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
