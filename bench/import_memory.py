"""Import memory and speed: peak RSS and rows/s for a small and a 4x larger MIS export."""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aggregates.values import uln_check_digit
from ledger.imports.layouts import MIS_EXPORT


def write_rows(path: Path, rows: int) -> None:
    """A plain MIS export: one learner per row, enrolled and registered."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MIS_EXPORT.columns), restval="")
        writer.writeheader()
        for number in range(rows):
            first = f"{1 + number % 9}{number:08d}"
            digit = uln_check_digit(first)
            writer.writerow({
                "centre": "10001", "learner": f"L{number:07d}", "given_name": "Zoë",
                "family_name": "O'Brien", "date_of_birth": "01/02/2000", "gender": "2",
                "uln": "" if digit is None else first + str(digit), "enrolment": "E1",
                "awarding_body": "IMI", "qualification": "601/3413/0",
                "qualification_title": "Light vehicle", "programme_start": "2025-09-01",
                "planned_end": "2026-07-01", "registration_submitted": "2025-10-01",
            })


def measure(rows: int, folder: Path) -> tuple[float, float]:
    """Peak RSS in MB and rows per second of one import in a child process."""
    path = folder / f"rows-{rows}.csv"
    write_rows(path, rows)
    db = folder / f"ledger-{rows}.db"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "cli", "--db", f"sqlite:///{db}", "import", str(path)],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return peak, rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small_peak, small_rate = measure(args.rows, Path(folder))
        large_peak, large_rate = measure(args.rows * 4, Path(folder))
    print(f"{args.rows:>9,} rows: peak {small_peak:7.1f} MB, {small_rate:7.0f} rows/s")
    print(f"{args.rows * 4:>9,} rows: peak {large_peak:7.1f} MB, {large_rate:7.0f} rows/s")
    print(f"memory ratio for 4x the rows: {large_peak / small_peak:.2f}")


if __name__ == "__main__":
    main()
