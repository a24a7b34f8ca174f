"""The ILR import beside the CSV import of the same learners: events/s and their ratio.

    python bench/ilr.py [--learners 100000] [--backend sqlite|postgres|both]
                        [--postgres URL] [--schema wt41_bench] [--keep DIR] [--json]

The synthetic centre's learners (`ledger demo`'s generator) are written twice with the same
facts: as an ILR 2025-26 file (with a LARS-shaped aims file) and as an MIS export CSV holding
only what the ILR carries (details, enrolment, withdrawal, completion, achievement). Each is
imported into a new ledger, CSV first then ILR, in the same run; the ILR import's target is
20,000 events/s on SQLite. Also printed: one streaming pass over the ILR file alone, with the
process's peak memory before and after it (flat: the file is never held whole).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    SEED,
    cpu_seconds,
    event_count,
    host_speed_us,
    work_folder,
    write_export,
)
from bench.run import fresh_postgres
from ledger.demo import CentreGenerator
from ledger.imports.layouts import MIS_EXPORT

TARGET_SQLITE = 20_000
DEFAULT_POSTGRES = os.environ.get("LEDGER_BENCH_POSTGRES",
                                  "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REASON_CODES = {"left": "98", "requested": "44", "no-contact": "45", "transferred": "2",
                "cannot-complete": "3"}
SEX = {"1": "M", "2": "F"}
NAMES = {"mis": "full MIS export CSV (bench/run.py's)", "csv": "CSV of the ILR's facts",
         "ilr": "ILR"}


def iso(text: str) -> str:
    from aggregates.values import parse_date
    return parse_date(text, "date").isoformat() if text else ""


def write_pair(folder: Path, learners: int) -> tuple[Path, Path, Path, int]:
    """The ILR file, the CSV of the same facts, the aims file; and the number of deliveries."""
    generator = CentreGenerator(learners, SEED, date.today())
    xml_path, csv_path = folder / "ilr-2025-26.xml", folder / "same-learners.csv"
    aims: dict[str, tuple[str, str]] = {}
    deliveries = 0
    with xml_path.open("w", encoding="utf-8") as xml, \
            csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MIS_EXPORT.columns), restval="")
        writer.writeheader()
        xml.write('<?xml version="1.0" encoding="utf-8"?>\n<Message xmlns="ESFA/ILR/2025-26">\n'
                  "  <LearningProvider><UKPRN>58231</UKPRN></LearningProvider>\n")
        for number in range(1, learners + 1):
            generator.learner(number)
            rows = list(generator.mis_rows)
            generator.mis_rows.clear()
            generator.event_rows.clear()
            deliveries += len(rows)
            xml.write(_learner_xml(rows, aims, writer))
        xml.write("</Message>\n")
    aims_path = folder / "aims.csv"
    with aims_path.open("w", encoding="utf-8", newline="") as handle:
        aims_writer = csv.writer(handle)
        aims_writer.writerow(("LearnAimRef", "LearnAimRefTitle", "AwardOrgCode"))
        for reference, (body, title) in sorted(aims.items()):
            aims_writer.writerow((reference, title, body))
    return xml_path, csv_path, aims_path, deliveries


def _learner_xml(rows: list[dict[str, str]], aims: dict[str, tuple[str, str]],
                 writer: csv.DictWriter) -> str:  # type: ignore[type-arg]
    first = rows[0]
    sex = SEX.get(first["gender"], "F")
    fields = [("LearnRefNumber", first["learner"]), ("ULN", first["uln"] or "9999999999"),
              ("FamilyName", first["family_name"]), ("GivenNames", first["given_name"]),
              ("DateOfBirth", iso(first["date_of_birth"])), ("Sex", sex),
              ("Postcode", first["postcode"]), ("Email", first["email"])]
    parts = ["  <Learner>\n"]
    parts += [f"    <{name}>{escape(value)}</{name}>\n" for name, value in fields if value]
    for sequence, row in enumerate(rows, 1):
        reference = row["qualification"].replace("/", "")
        aims[reference] = (row["awarding_body"], row["qualification_title"])
        delivery = [("LearnAimRef", reference), ("AimType", "4"), ("AimSeqNumber", str(sequence)),
                    ("LearnStartDate", iso(row["programme_start"])),
                    ("LearnPlanEndDate", iso(row["planned_end"]))]
        same = {"centre": "58231", "learner": first["learner"], "given_name": first["given_name"],
                "family_name": first["family_name"], "date_of_birth": first["date_of_birth"],
                "gender": {"M": "1", "F": "2"}[sex], "postcode": first["postcode"],
                "email": first["email"], "uln": first["uln"], "enrolment": str(sequence),
                "awarding_body": row["awarding_body"], "qualification": row["qualification"],
                "qualification_title": row["qualification_title"],
                "programme_start": row["programme_start"], "planned_end": row["planned_end"],
                "apprenticeship": "N"}
        if row["withdrawal_left"]:
            delivery += [("LearnActEndDate", iso(row["withdrawal_left"])), ("CompStatus", "3"),
                         ("WithdrawReason", REASON_CODES[row["withdrawal_reason"]])]
            same |= {"withdrawal_left": row["withdrawal_left"],
                     "withdrawal_reason": row["withdrawal_reason"]}
        elif row["iqa_signed_off"]:
            delivery += [("LearnActEndDate", iso(row["iqa_signed_off"])), ("CompStatus", "2")]
            same["learning_completed"] = row["iqa_signed_off"]
            if row["certificate_received"]:
                delivery += [("Outcome", "1"), ("AchDate", iso(row["certificate_received"]))]
                same["achieved"] = row["certificate_received"]
        else:
            delivery.append(("CompStatus", "1"))
        writer.writerow(same)
        parts.append("    <LearningDelivery>\n")
        parts += [f"      <{name}>{escape(value)}</{name}>\n" for name, value in delivery]
        parts.append("    </LearningDelivery>\n")
    parts.append("  </Learner>\n")
    return "".join(parts)


def timed_import(url: str, kind: str, data: Path, aims: Path) -> dict[str, Any]:
    """One import into a new ledger: its seconds and CPU seconds (this process and its
    workers), each pass's, the learner events it reports (as the CLI prints them: the
    target's measure) and the events stored (with the reference index's)."""
    from bench.steps.importing import PassClock
    from ledger.app import LedgerApp
    from ledger.imports import ImportOptions, import_csv
    from ledger.imports.ilr_import import import_ilr

    app = LedgerApp(url)
    options = ImportOptions(actor="bench", skip_invalid=True)
    clock = PassClock()
    try:
        before, load = event_count(app), os.getloadavg()[0]
        started, cpu = time.perf_counter(), cpu_seconds()
        if kind == "ilr":
            summary = import_ilr(app, data, aims, None, options, clock)
        else:
            summary = import_csv(app, data, options, clock)
        ended, cpu_ended = time.perf_counter(), cpu_seconds()
        stored = event_count(app) - before  # stored events, as bench/run.py counts them
    finally:
        app.close()
        app.engine.dispose()
    seconds, cpu_used = ended - started, cpu_ended - cpu
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu_used, 2),
            "load_average": round(load, 1), "events": summary.events, "stored_events": stored,
            "rows_skipped": summary.rows_skipped,
            "passes": {name: {key: round(value, 2) for key, value in figures.items()}
                       for name, figures in clock.passes(ended, cpu_ended).items()},
            "events_per_s": round(summary.events / seconds) if seconds else 0,
            "events_per_cpu_s": round(summary.events / cpu_used) if cpu_used else 0}


def parse_pass(path: Path, aims: Path) -> dict[str, Any]:
    """Stream the ILR file once, planning nothing: its seconds and the peak memory."""
    from ledger.imports.aims import load_aims
    from ledger.imports.ilr import IlrSource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    source = IlrSource(path, load_aims(aims))
    started = time.perf_counter()
    source.header()
    records = sum(1 for _ in source.records())
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"records": records, "seconds": round(seconds, 2),
            "mb_per_s": round(path.stat().st_size / 1e6 / seconds, 1),
            "peak_mb_before": round(before, 1), "peak_mb_after": round(after, 1)}


def files(folder: Path, given: Path | None, learners: int) -> tuple[Path, Path, Path, int]:
    """The ILR file, the CSV of the same facts, the aims file and the deliveries: those kept
    in `given`, else written now for `learners` learners."""
    if given is None:
        print(f"writing {learners:,} learners as ILR and as CSV ...", file=sys.stderr)
        return write_pair(folder, learners)
    paths = given / "ilr-2025-26.xml", given / "same-learners.csv", given / "aims.csv"
    with paths[1].open(encoding="utf-8") as handle:
        deliveries = sum(1 for _ in handle) - 1
    return *paths, deliveries


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--schema", default="bench_ilr")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the files here.")
    parser.add_argument("--files", type=Path, default=None,
                        help="Import the files a run before kept in this folder (--keep) "
                             "instead of writing new ones: the same input for A/B runs.")
    parser.add_argument("--with-mis", action="store_true",
                        help="Also import the main bench's full MIS export of the same "
                             "learners first (bench/run.py's import figure, target 30,000).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.learners < 1:
        parser.error("--learners must be at least 1")
    report: dict[str, Any] = {"learners": args.learners, "host_us_start": host_speed_us()}
    with work_folder(args.keep) as folder:
        xml_path, csv_path, aims, deliveries = files(folder, args.files, args.learners)
        report |= {"deliveries": deliveries, "ilr_mb": round(xml_path.stat().st_size / 1e6, 1),
                   "csv_mb": round(csv_path.stat().st_size / 1e6, 1)}
        report["parse"] = parse_pass(xml_path, aims)
        backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
        imports = [("csv", csv_path), ("ilr", xml_path)]
        if args.with_mis:  # the main bench's import, for the host's measure against its target
            mis_path = (args.files or folder) / "mis-export.csv"
            if not (args.files and mis_path.exists()):
                write_export(mis_path, args.learners)
            imports.insert(0, ("mis", mis_path))
        for backend in backends:
            for kind, data in imports:
                if backend == "sqlite":
                    url = f"sqlite:///{folder / f'{kind}.db'}"
                else:
                    url = fresh_postgres(args.postgres, f"{args.schema}_{kind}")
                print(f"{backend}: importing the {kind.upper()} file ...", file=sys.stderr)
                report[f"{backend}_{kind}"] = timed_import(url, kind, data, aims)
            csv_rate = report[f"{backend}_csv"]["events_per_s"]
            ilr_rate = report[f"{backend}_ilr"]["events_per_s"]
            report[f"{backend}_ratio"] = round(ilr_rate / csv_rate, 3) if csv_rate else None
    report["host_us_end"] = host_speed_us()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, backends)
    return report


def print_report(report: dict[str, Any], backends: tuple[str, ...]) -> None:
    parse = report["parse"]
    print(f"ILR import beside the CSV import of the same {report['learners']:,} learners "
          f"({report['deliveries']:,} deliveries; ILR {report['ilr_mb']} MB, CSV "
          f"{report['csv_mb']} MB); host sum(range(1000)) {report['host_us_start']:.1f} to "
          f"{report['host_us_end']:.1f} µs")
    print(f"  streaming parse alone: {parse['seconds']} s ({parse['mb_per_s']} MB/s), peak "
          f"memory {parse['peak_mb_before']} MB before, {parse['peak_mb_after']} MB after")
    print("  events/s count learner events, as `ledger import` reports them; stored events "
          "are every row written (the reference index's too)")
    for backend in backends:
        for kind in ("mis", "csv", "ilr"):
            if f"{backend}_{kind}" in report:
                print(import_line(backend, kind, report[f"{backend}_{kind}"]))
        if f"{backend}_mis" in report:
            mis_rate = report[f"{backend}_mis"]["events_per_s"]
            print(f"  {backend} ILR ÷ full MIS export import: "
                  f"{report[f'{backend}_ilr']['events_per_s'] / mis_rate:.3f}")
        ilr_rate = report[f"{backend}_ilr"]["events_per_s"]
        verdict = ""
        if backend == "sqlite":
            verdict = f"; target >= {TARGET_SQLITE:,}: " + (
                "met" if ilr_rate >= TARGET_SQLITE else "NOT MET")
        print(f"  {backend} ILR ÷ CSV: {report[f'{backend}_ratio']}{verdict}")


def import_line(backend: str, kind: str, result: dict[str, Any]) -> str:
    passes = ", ".join(f"{name} {figures['seconds']} s ({figures['cpu_seconds']} CPU s)"
                       for name, figures in result["passes"].items())
    return (f"  {backend} {NAMES[kind]} import: {result['events_per_s']:,} events/s, "
            f"{result['events_per_cpu_s']:,} a CPU second ({result['events']:,} events, "
            f"{result['stored_events']:,} stored, in {result['seconds']} s, "
            f"{result['cpu_seconds']} CPU s: {passes}; load average {result['load_average']}; "
            f"{result['rows_skipped']} rows skipped)")


if __name__ == "__main__":
    main()
