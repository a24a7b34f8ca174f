"""The synthetic demo centre: deterministic, valid where it should be, flawed where it should be."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from aggregates.values import is_valid_uln, parse_date
from ledger.demo import academic_year_start, registration_window, write_demo_files
from ledger.rules.rulesets import load_rulebook

TODAY = date(2026, 11, 23)
BOOK = load_rulebook()


def window(row: dict[str, str]) -> int:
    """The row's approximate registration window, from the rule set in force."""
    start, end = (parse_date(row[c], c) for c in ("programme_start", "planned_end"))
    return registration_window(BOOK, row["awarding_body"], start, end)
PAST_COLUMNS = (
    "registration_submitted", "registration_confirmed", "assessment_started", "withdrawal_left",
    "withdrawal_notified", "iqa_signed_off", "claim_submitted", "certificate_received",
    "certificate_issued", "certificate_collected",
)


def generate(tmp_path: Path, seed: int, learners: int = 300) -> tuple[list[dict], list[dict]]:
    mis, events = tmp_path / f"mis-{seed}.csv", tmp_path / f"events-{seed}.csv"
    write_demo_files(mis, events, learners, seed, TODAY)
    read = [list(csv.DictReader(path.open(encoding="utf-8-sig"))) for path in (mis, events)]
    return read[0], read[1]


def test_the_same_seed_and_day_give_the_same_files_and_another_seed_does_not(tmp_path):
    assert generate(tmp_path, 1, 50) == generate(tmp_path, 1, 50)
    assert generate(tmp_path, 1, 50) != generate(tmp_path, 2, 50)


def test_ulns_are_valid_and_dates_fall_in_the_last_two_academic_years(tmp_path):
    rows, _ = generate(tmp_path, 5)
    assert all(is_valid_uln(row["uln"]) for row in rows if row["uln"])
    starts = [parse_date(row["programme_start"], "start") for row in rows]
    assert min(starts) >= academic_year_start(TODAY).replace(year=2025) == date(2025, 8, 1)
    assert max(starts) <= TODAY
    for row in rows:
        for column in PAST_COLUMNS:
            if row[column]:
                assert parse_date(row[column], column) <= TODAY


def test_the_centre_has_a_believable_share_of_problems(tmp_path):
    rows, events = generate(tmp_path, 9)
    share = {
        "late": sum(1 for r in rows if r["registration_submitted"] and (
            parse_date(r["registration_submitted"], "s") - parse_date(r["programme_start"], "p")
        ).days > window(r)) / len(rows),
        "withdrawn": sum(1 for r in rows if r["withdrawal_left"]) / len(rows),
        "claimed": sum(1 for r in rows if r["claim_submitted"]) / len(rows),
        "capitals": sum(1 for r in rows if r["family_name"].isupper()) / len(rows),
    }
    assert 0.04 < share["late"] < 0.25
    assert 0.05 < share["withdrawn"] < 0.25
    assert 0.1 < share["claimed"] < 0.7
    assert 0.005 < share["capitals"] < 0.1
    assert {r["awarding_body"] for r in rows} == {"IMI", "AIM"}
    assert {e["event"] for e in events} >= {"lrs-result", "id-verified"}
    assert any("'" in r["family_name"] for r in rows)
    assert any(not r["given_name"].isascii() for r in rows)
