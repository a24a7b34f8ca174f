"""PostgreSQL: what the server's stamping, chaining and event checks cost a bulk insert.

    PYTHONPATH=. python bench/server_chain.py [--postgres URL] [--schema bench_server_chain]
                                              [--batch 16000] [--batches 5] [--rounds 3]

Stores batches of stored events the size of an import's transactions (about 16,000 events:
875,000 in 54 at N = 100,000) through the chained recorder's bulk path (one COPY a batch),
in alternating rounds of three set-ups on the same ledger, in the same run:

- bare: both triggers disabled (the events are stored, nothing chains them: the floor);
- chain: the server's chain trigger (`ledger.integrity.server_chain`) only;
- full: the chain and the event checks (`ledger.storage.event_checks`), as a ledger runs.

Prints events/s for each (the median round) and full ÷ bare, chain ÷ bare. The events'
states are a real learner event's, each with the time now as its recorded time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from sqlalchemy import create_engine, text

from ledger.app import LedgerApp
from ledger.integrity.server_chain import trigger_name
from ledger.storage.persistence import EVENT_HASHES_TABLE, EVENTS_TABLE

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TOPIC = "aggregates.learner:Learner.Enrolled"
STATE = ('{"timestamp":{"_type_":"datetime_iso","_data_":"%s"},"enrolment":"E1",'
         '"awarding_body":"IMI","qualification":"603/1234/5","qualification_title":'
         '"Level 3 Diploma in Light Vehicle Maintenance","units":[],"programme_start":'
         '{"_type_":"date_iso","_data_":"2026-09-01"},"planned_end":{"_type_":"date_iso",'
         '"_data_":"2027-07-31"},"apprenticeship":false,"warnings":[],"occurred_on":'
         '{"_type_":"date_iso","_data_":"2026-09-01"},"actor":"bench","source":'
         '"import mis.csv:%d","note":null}')
TRIGGERS = {"bare": (), "chain": (trigger_name(EVENT_HASHES_TABLE),),
            "full": (trigger_name(EVENT_HASHES_TABLE), f"{EVENTS_TABLE}_checks")}


def schema_url(url: str, schema: str) -> str:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def batch(size: int, first_line: int) -> list[StoredEvent]:
    now = datetime.now(UTC).isoformat()
    return [StoredEvent(originator_id=uuid4(), originator_version=2, topic=TOPIC,
                        state=(STATE % (now, first_line + number)).encode())
            for number in range(size)]


def set_up(app: LedgerApp, mode: str) -> None:
    """Enable the mode's triggers, disable the others (as the owner)."""
    with app.engine.begin() as connection:
        for name in TRIGGERS["full"]:
            verb = "ENABLE" if name in TRIGGERS[mode] else "DISABLE"
            connection.execute(text(f"ALTER TABLE {EVENTS_TABLE} {verb} TRIGGER {name}"))


def store_round(app: LedgerApp, size: int, batches: int, line: int) -> float:
    """Events/s storing `batches` batches, each in its own transaction."""
    recorder = app.chained_recorder
    packed = [recorder.pack(batch(size, line + number * size)) for number in range(batches)]
    started = time.perf_counter()
    for one in packed:
        recorder.insert_packed(one)
    return size * batches / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("LEDGER_BENCH_POSTGRES",
                                                             DEFAULT_URL))
    parser.add_argument("--schema", default="bench_server_chain")
    parser.add_argument("--batch", type=int, default=16_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    app = LedgerApp(schema_url(options.postgres, options.schema))
    rates: dict[str, list[float]] = {mode: [] for mode in TRIGGERS}
    line = 0
    try:
        for _ in range(options.rounds):
            for mode in TRIGGERS:
                set_up(app, mode)
                rates[mode].append(store_round(app, options.batch, options.batches, line))
                line += options.batch * options.batches
        set_up(app, "full")
    finally:
        app.close()
        app.engine.dispose()
    median = {mode: statistics.median(found) for mode, found in rates.items()}
    print(f"server chain bench: {options.rounds} rounds of {options.batches} batches of "
          f"{options.batch:,} events, alternating")
    for mode, found in rates.items():
        spread = ", ".join(f"{rate:,.0f}" for rate in found)
        print(f"  {mode:<6} {median[mode]:>9,.0f} events/s  (rounds: {spread})")
    print(f"  chain / bare = {median['chain'] / median['bare']:.3f}; "
          f"full / bare = {median['full'] / median['bare']:.3f}")


if __name__ == "__main__":
    main()
