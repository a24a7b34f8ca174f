"""Late registrations judged by hand-counted deadlines: the deadline day and the day after."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from ledger.rules.rulesets import load_rulebook
from projections.late_registrations import late_registrations
from tests.unit.history import MemoryLedger

START = date(2026, 4, 1)          # Wednesday, just before Easter 2026
SHORT_END = START + timedelta(weeks=15)        # exactly 15 weeks: a short course
LONG_END = SHORT_END + timedelta(days=1)       # one day more: a long course
AIM_SHORT_DEADLINE = date(2026, 5, 11)         # 25 working days, England (hand-counted)
AIM_LONG_DEADLINE = date(2026, 6, 30)          # 60 working days, England (hand-counted)
IMI_DEADLINE = date(2026, 6, 30)               # 90 calendar days


def judge(ledger: MemoryLedger, on: date, policies: Path | None = None) -> list[dict]:
    rows, _ = late_registrations(ledger.timelines(), load_rulebook(policies), on)
    return [row.as_row() for row in rows]


@pytest.mark.parametrize(("end", "deadline"), [
    (SHORT_END, AIM_SHORT_DEADLINE), (LONG_END, AIM_LONG_DEADLINE),
])
def test_aim_courses_of_15_weeks_or_less_have_25_working_days_longer_ones_60(
    end: date, deadline: date,
) -> None:
    ledger = MemoryLedger()
    ledger.learner().enrol_on("E1", "AIM", START, end)
    (row,) = judge(ledger, date(2026, 4, 2))
    assert row["deadline"] == deadline
    assert row["rule"] == ("AIM registration and certification policy (v1.0), clause 3.2: "
                           + ("25" if end == SHORT_END else "60") + " working days")


@pytest.mark.parametrize(("body", "deadline"), [
    ("AIM", AIM_SHORT_DEADLINE), ("IMI", IMI_DEADLINE),
])
def test_submitted_on_the_deadline_day_is_on_time_and_the_day_after_is_one_day_late(
    body: str, deadline: date,
) -> None:
    ledger = MemoryLedger()
    on_time = ledger.learner("L1")
    on_time.enrol_on("E1", body, START, SHORT_END)
    on_time.submit_registration("E1", deadline)
    late = ledger.learner("L2")
    late.enrol_on("E1", body, START, SHORT_END)
    late.submit_registration("E1", deadline + timedelta(days=1))
    rows = {row["learner"]: row for row in judge(ledger, date(2026, 11, 1))}
    assert (rows["L1"]["status"], rows["L1"]["days_late"]) == ("on-time", 0)
    assert (rows["L2"]["status"], rows["L2"]["days_late"]) == ("late", 1)
    assert rows["L2"]["submitted"] == deadline + timedelta(days=1)


@pytest.mark.parametrize(("on", "status", "days_late"), [
    (date(2026, 4, 30), "on-time", 0),    # 5 working days on is 8 May: before the deadline
    (date(2026, 5, 1), "at-risk", 0),     # 5 working days on is 11 May: the deadline
    (AIM_SHORT_DEADLINE, "at-risk", 0),   # the deadline day itself
    (date(2026, 5, 12), "overdue", 1),    # the day after
    (date(2026, 5, 21), "overdue", 10),
])
def test_an_unsubmitted_registration_is_at_risk_within_5_working_days_then_overdue(
    on: date, status: str, days_late: int,
) -> None:
    ledger = MemoryLedger()
    ledger.learner().enrol_on("E1", "AIM", START, SHORT_END)
    (row,) = judge(ledger, on)
    assert (row["status"], row["days_late"], row["submitted"]) == (status, days_late, None)


def test_the_centres_nation_moves_the_deadline(tmp_path: Path) -> None:
    (tmp_path / "centres.toml").write_text('[centres."C1"]\nnation = "Scotland"\n')
    ledger = MemoryLedger()
    ledger.learner().enrol_on("E1", "AIM", START, SHORT_END)
    (row,) = judge(ledger, START, tmp_path)
    assert row["deadline"] == date(2026, 5, 8)   # Easter Monday is worked in Scotland


def test_a_rejected_registration_does_not_count_as_submitted() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.submit_registration("E1", date(2026, 5, 1))
    learner.reject_registration("E1", date(2026, 5, 2), "name in capitals")
    (row,) = judge(ledger, date(2026, 7, 2))
    assert (row["status"], row["days_late"]) == ("overdue", 2)


def test_a_retracted_submission_never_counts() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    wrong = learner.submit_registration("E1", date(2026, 5, 1))
    learner.retract_at(wrong)
    (row,) = judge(ledger, date(2026, 7, 1))
    assert (row["status"], row["submitted"]) == ("overdue", None)


def test_a_learner_who_left_before_the_deadline_owes_no_registration() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.withdraw("E1", date(2026, 4, 20), "left", date(2026, 4, 21))
    (row,) = judge(ledger, date(2026, 11, 1))
    assert row["status"] == "on-time"


def test_enrolments_without_a_rule_set_in_force_are_listed_apart() -> None:
    ledger = MemoryLedger()
    ledger.learner().enrol_on("E1", "AIM", date(2026, 1, 5), date(2026, 3, 1))
    ledger.learner("L2").enrol_on("E1", "NOSUCH", START, SHORT_END)
    rows, unjudged = late_registrations(ledger.timelines(), load_rulebook(), START)
    assert rows == []
    assert [(u.learner, u.awarding_body) for u in unjudged] == [("L1", "AIM"), ("L2", "NOSUCH")]


def test_filters_select_by_awarding_body_and_centre() -> None:
    ledger = MemoryLedger()
    ledger.learner("L1", "C1").enrol_on("E1", "AIM", START, SHORT_END)
    ledger.learner("L2", "C2").enrol_on("E1", "IMI", START, SHORT_END)
    book = load_rulebook()
    by_body, _ = late_registrations(ledger.timelines(), book, START, awarding_body="IMI")
    by_centre, _ = late_registrations(ledger.timelines(), book, START, centre="C1")
    assert [r.learner for r in by_body] == ["L2"]
    assert [r.learner for r in by_centre] == ["L1"]


# AIM short course starting Wednesday 1 July 2026, 25 working days, hand-counted per nation:
# England and Wales reach day 25 on Wed 5 August; Northern Ireland loses Mon 13 July (Battle
# of the Boyne, observed) and Scotland loses Mon 3 August (summer bank holiday): Thu 6 August.
@pytest.mark.parametrize(("nation", "deadline"), [
    ("England", date(2026, 8, 5)), ("Wales", date(2026, 8, 5)),
    ("Northern Ireland", date(2026, 8, 6)), ("Scotland", date(2026, 8, 6)),
])
def test_each_nations_deadline_day_is_on_time_and_the_next_day_late(
    tmp_path: Path, nation: str, deadline: date,
) -> None:
    (tmp_path / "centres.toml").write_text(f'[centres."C1"]\nnation = "{nation}"\n')
    start = date(2026, 7, 1)
    ledger = MemoryLedger()
    on_time, late = ledger.learner("L1"), ledger.learner("L2")
    for learner, submitted in ((on_time, deadline), (late, deadline + timedelta(days=1))):
        learner.enrol_on("E1", "AIM", start, start + timedelta(weeks=10))
        learner.submit_registration("E1", submitted)
    rows = judge(ledger, date(2026, 11, 1), tmp_path)
    assert [(r["learner"], r["deadline"], r["status"], r["days_late"]) for r in rows] == [
        ("L1", deadline, "on-time", 0), ("L2", deadline, "late", 1)]


@pytest.mark.parametrize("on", [date(2026, 7, 20), date(2026, 11, 1), date(2027, 6, 1)])
def test_a_learner_who_left_unregistered_after_the_deadline_is_judged_up_to_leaving(
    on: date,
) -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.withdraw("E1", date(2026, 7, 10), "left", date(2026, 7, 11))
    (row,) = judge(ledger, on)
    assert (row["status"], row["days_late"]) == ("overdue", 10)   # 30 June to 10 July


def test_judged_on_a_date_only_facts_that_occurred_by_then_count() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", START, SHORT_END)
    learner.submit_registration("E1", date(2026, 7, 20))
    (row,) = judge(ledger, date(2026, 7, 10))
    assert (row["status"], row["submitted"], row["days_late"]) == ("overdue", None, 10)
    (row,) = judge(ledger, date(2026, 7, 20))
    assert (row["status"], row["submitted"]) == ("late", date(2026, 7, 20))


def test_an_enrolment_not_yet_started_on_the_date_is_not_listed() -> None:
    ledger = MemoryLedger()
    learner = ledger.learner()
    learner.enrol_on("E1", "IMI", date(2026, 9, 1), date(2027, 6, 1))
    learner.submit_registration("E1", date(2026, 12, 1))
    assert judge(ledger, date(2026, 6, 1)) == []
    assert judge(ledger, date(2026, 8, 31)) == []
    (row,) = judge(ledger, date(2026, 9, 1))
    assert (row["status"], row["submitted"]) == ("on-time", None)
