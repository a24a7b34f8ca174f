"""The bench's synthetic centre as successive monthly MIS exports: a grown ledger's input.

Each learner is generated once, as the final export has them; the export of an earlier month
is what the MIS held at its cut-off date: only the enrolments started by then, every date
after it left blank (with the cells that go with it: the AO reference with the confirmation,
the withdrawal's reason with its date), and, for some learners, the postcode or email they
had before a move in a later month. A withdrawal is held back until the row's facts dated
after it are known too (the generator has some registrations submitted after the learner
left, which one export records but an import refuses once the withdrawal is recorded).

Imported one month after another, the later months bring new learners, new enrolments,
submissions, confirmations, withdrawals, completions, claims and certificates of learners
recorded before, and amendments of their details.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.common import SEED
from ledger.demo import CentreGenerator, make_postcode
from ledger.imports.layouts import MIS_EXPORT

MONTHS = 10
MONTH_DAYS = 30
MOVED = 0.08  # the share of learners whose postcode or email changes in a later month
# a date column, and the cells blanked with it while it is in the future
DATED = {
    "registration_submitted": (), "registration_confirmed": ("ao_reference",),
    "assessment_started": (), "withdrawal_left": ("withdrawal_reason",),
    "withdrawal_notified": (), "iqa_signed_off": (), "claim_submitted": (),
    "certificate_received": (), "certificate_issued": (), "certificate_collected": (),
}

WITHDRAWAL = ("withdrawal_left", "withdrawal_reason", "withdrawal_notified")


def cut_offs(today: date, months: int = MONTHS) -> list[date]:
    """The months' cut-off dates, oldest first, the last `today`."""
    return [today - timedelta(days=MONTH_DAYS * (months - 1 - month)) for month in range(months)]


def parse_day(cell: str) -> date | None:
    """A date as the generator writes it (ISO or DD/MM/YYYY); None for a blank cell."""
    if not cell:
        return None
    if "/" in cell:
        return datetime.strptime(cell, "%d/%m/%Y").date()
    return date.fromisoformat(cell)


def as_of(row: dict[str, str], cut_off: date) -> dict[str, str] | None:
    """The enrolment's row as the MIS held it on `cut_off`; None if it had not started."""
    start = parse_day(row["programme_start"])
    if start is None or start > cut_off:
        return None
    known = dict(row)
    days = {column: parse_day(row[column]) for column in DATED}
    for column, dependents in DATED.items():
        day = days[column]
        if day is not None and day > cut_off:
            for blanked in (column, *dependents):
                known[blanked] = ""
    left = days["withdrawal_left"]
    if left is not None and any(day is not None and day > cut_off and day > left
                                for day in days.values()):
        for column in WITHDRAWAL:  # recorded with the facts after it, as one export has them
            known[column] = ""
    return known


def earlier_details(number: int, row: dict[str, str], seed: int) -> tuple[int, dict[str, str]]:
    """The month from which the learner's final postcode or email holds, and what the
    months before it had instead (month 0 and no change for most learners)."""
    rng = random.Random(seed * 1_000_003 + number)
    if rng.random() >= MOVED:
        return 0, {}
    month = rng.randint(1, MONTHS - 1)
    if row["postcode"] and rng.random() < 0.67:
        return month, {"postcode": make_postcode(rng)}
    if row["email"]:
        return month, {"email": "old." + row["email"]}
    return 0, {}


def learners_by_month(learners: int, seed: int, today: date,
                      prefix: str = "L") -> Iterator[list[list[dict[str, str]]]]:
    """For each learner, its rows in each month's export (a list per month, oldest first)."""
    generator = CentreGenerator(learners, seed, today)
    days = cut_offs(today)
    for number in range(1, learners + 1):
        generator.learner(number)
        finals = generator.mis_rows[:]
        generator.mis_rows.clear()
        generator.event_rows.clear()
        for row in finals:
            row["learner"] = prefix + row["learner"][1:]
        moved_in, before = earlier_details(number, finals[0], seed)
        months: list[list[dict[str, str]]] = []
        for month, cut_off in enumerate(days):
            rows = [known for known in (as_of(row, cut_off) for row in finals) if known]
            if month < moved_in:
                rows = [{**row, **before} for row in rows]
            months.append(rows)
        yield months


def write_monthly_exports(folder: Path, learners: int, seed: int = SEED,
                          today: date | None = None) -> tuple[list[Path], list[int]]:
    """Write the MONTHS exports into `folder`; their paths (oldest first) and row counts."""
    paths = [folder / f"bench-month-{month + 1:02d}.csv" for month in range(MONTHS)]
    counts = [0] * MONTHS
    with ExitStack() as files:
        writers = []
        for path in paths:
            handle = files.enter_context(path.open("w", encoding="utf-8", newline=""))
            writer = csv.DictWriter(handle, fieldnames=list(MIS_EXPORT.columns), restval="")
            writer.writeheader()
            writers.append(writer)
        for months in learners_by_month(learners, seed, today or date.today()):
            for month, rows in enumerate(months):
                writers[month].writerows(rows)
                counts[month] += len(rows)
    return paths, counts
