"""A synthetic but believable centre: MIS export and LRS results as CSV, for `ledger demo`."""

from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aggregates.learner import WITHDRAWAL_REASONS
from aggregates.values import uln_check_digit
from ledger.imports.layouts import EVENTS, MIS_EXPORT
from ledger.rules.rulesets import RuleBook, load_rulebook

CENTRE = "58231"
GIVEN_NAMES = {
    1: ("Oliver", "Jack", "Harry", "George", "Noah", "Mohammed", "Liam", "Rhys", "Seán",
        "Dafydd", "Kacper", "Ethan", "Callum", "Tomás", "Jamal", "Kwame", "Jean-Luc", "Connor"),
    2: ("Amelia", "Isla", "Ava", "Mia", "Sophie", "Aisha", "Zoë", "Siân", "Niamh", "Chloé",
        "Zofia", "Ellie", "Grace", "Freya", "Anaïs", "Priya", "Lowri", "Eilidh", "Mary-Jane",
        "Bethan", "Hannah"),
}
GIVEN_NAMES[9] = GIVEN_NAMES[1] + GIVEN_NAMES[2]
FAMILY_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Roberts", "O'Brien", "O'Neill", "McDonald", "Khan", "Patel", "Nowak", "Kowalski", "Müller",
    "Ní Bhriain", "Lloyd-Hughes", "Öztürk", "Okafor", "D'Souza", "Hughes", "Walker", "Wright",
    "Clarke", "Begum", "Ahmed", "Murphy", "Campbell", "MacLeod", "Price", "Edwards", "Hall",
)
TITLES = {1: ("Mr",), 2: ("Ms", "Miss", "Mrs"), 9: ("Mx",)}
POSTCODE_AREAS = ("LS", "M", "B", "S", "NE", "CF", "BS", "NG", "L", "LE", "CV", "SA", "WF", "HD")
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class Course:
    """A qualification the centre offers with an awarding body."""

    awarding_body: str
    number: str
    title: str
    weeks: tuple[int, int]
    apprenticeship: bool = False
    units: tuple[str, ...] = ()


COURSES = (
    Course("IMI", "601/3413/0", "IMI Level 2 Diploma in Light Vehicle Maintenance and Repair "
           "Principles", (34, 40), units=("LV01", "LV02", "LV05")),
    Course("IMI", "601/3416/6", "IMI Level 3 Diploma in Light Vehicle Maintenance and Repair "
           "Principles", (36, 44), units=("LV11", "LV14")),
    Course("IMI", "603/3917/5", "IMI Level 3 Motor Vehicle Service and Maintenance Technician "
           "(Light Vehicle) End-Point Assessment", (78, 104), apprenticeship=True),
    Course("IMI", "600/4589/3", "IMI Level 2 Award in Air Conditioning", (4, 8)),
    Course("AIM", "603/2948/0", "AIM Qualifications Level 2 Certificate in Customer Service",
           (10, 14)),
    Course("AIM", "610/0412/2", "AIM Qualifications Level 3 Diploma in Health and Social Care",
           (38, 52)),
    Course("AIM", "603/5713/X", "AIM Qualifications Level 1 Award in Employability Skills",
           (6, 12)),
)



def academic_year_start(today: date) -> date:
    """1 August of the academic year that `today` falls in."""
    year = today.year if today.month >= 8 else today.year - 1
    return date(year, 8, 1)


def make_uln(rng: random.Random) -> str:
    """A ULN with a valid check digit (first digit not 0)."""
    while True:
        first = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
        digit = uln_check_digit(first)
        if digit is not None:
            return first + str(digit)


def make_postcode(rng: random.Random) -> str:
    area = rng.choice(POSTCODE_AREAS)
    letters = "".join(rng.choice(POSTCODE_LETTERS) for _ in range(2))
    return f"{area}{rng.randint(1, 29)} {rng.randint(0, 9)}{letters}"


def ascii_name(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _uk(day: date | None, rng: random.Random) -> str:
    """Dates as an MIS export writes them: mostly DD/MM/YYYY, some ISO."""
    if day is None:
        return ""
    return day.isoformat() if rng.random() < 0.3 else day.strftime("%d/%m/%Y")


def first_rule_dates(book: RuleBook) -> dict[str, date]:
    """Each AO's first effective date: the demo starts no course before its rules."""
    return {body: min(v.effective_from for v in versions)
            for body, versions in book.versions.items()}


def registration_window(book: RuleBook, body: str, start: date, planned_end: date) -> int:
    """Roughly the AO's registration window in calendar days, read from its rule set in force
    (working days count as 7/5 calendar days; the reports judge the deadline exactly)."""
    rules = book.rules_in_force(body, start) or {}
    rule = rules.get("late-registration")
    if rule is None:
        return 90
    params = rule.params
    days, unit = params["days"], params["unit"]
    short_max = params.get("short_max_weeks")
    if params.get("long_days") and short_max and (planned_end - start).days > short_max * 7:
        days, unit = params["long_days"], params.get("long_unit") or unit
    return days * 7 // 5 if unit == "working" else days


class CentreGenerator:
    """Generates the learners of one centre, deterministically from a seed and a day."""

    def __init__(self, learners: int, seed: int, today: date) -> None:
        self.count, self.today = learners, today
        self.rng = random.Random(seed)
        self.first_start = academic_year_start(today) - timedelta(days=365)
        self.book = load_rulebook()
        self.earliest = first_rule_dates(self.book)
        self.mis_rows: list[dict[str, str]] = []
        self.event_rows: list[dict[str, str]] = []

    def past(self, day: date | None) -> date | None:
        return day if day is not None and day <= self.today else None

    def generate(self) -> None:
        for number in range(1, self.count + 1):
            self.learner(number)

    def start_date(self, awarding_body: str) -> date:
        """A start in the last two academic years, once the AO's first rule set is in force."""
        rng = self.rng
        first = max(self.first_start, self.earliest.get(awarding_body, self.first_start))
        span = max((self.today - timedelta(days=7) - first).days, 1)
        if rng.random() < 0.6:
            cohorts = [date(self.first_start.year + y, m, 2) for y in (0, 1) for m in (9, 1, 4)]
            cohorts = [d.replace(year=d.year + 1) if d.month < 8 else d for d in cohorts]
            cohorts = [d for d in cohorts if first <= d < self.today - timedelta(days=7)]
            if cohorts:
                return _weekday(rng.choice(cohorts) + timedelta(days=rng.randint(0, 12)))
        return _weekday(first + timedelta(days=rng.randint(0, span)))

    def learner(self, number: int) -> None:
        rng = self.rng
        gender = rng.choices((1, 2, 9), (48, 48, 4))[0]
        given, family = rng.choice(GIVEN_NAMES[gender]), rng.choice(FAMILY_NAMES)
        problem = rng.random()
        if problem < 0.03:
            given, family = given.upper(), family.upper()
        elif problem < 0.05:
            given = given[0] + "."
        courses = [rng.choice(COURSES)]
        if rng.random() < 0.08:
            other = rng.choice([c for c in COURSES if c.awarding_body != courses[0].awarding_body])
            courses.append(other)
        start = max(self.start_date(course.awarding_body) for course in courses)
        born = start - timedelta(days=rng.randint(16 * 365, 45 * 365))
        if rng.random() < 0.01:
            born = date(1901, 1, 1)
        person = {
            "centre": CENTRE, "learner": f"L{number:05d}",
            "title": rng.choice(TITLES[gender]) if rng.random() < 0.8 else "",
            "given_name": given, "family_name": family, "date_of_birth": _uk(born, rng),
            "gender": str(gender),
            "postcode": make_postcode(rng) if rng.random() < 0.93 else "",
            "email": (f"{ascii_name(given)}.{ascii_name(family)}{number}@example.com"
                      if rng.random() < 0.85 else ""),
        }
        uln = make_uln(rng) if rng.random() < 0.85 else ""
        person["uln"] = uln
        for index, course in enumerate(courses, 1):
            self.enrolment(person, f"E{number:05d}-{index}", course,
                           start if index == 1 else _weekday(start + timedelta(days=14)))
        self.identity(person, start, bool(uln))

    def identity(self, person: dict[str, str], start: date, has_uln: bool) -> None:
        rng, ref = self.rng, person["learner"]
        if rng.random() < 0.9:
            self.event("id-verified", ref, "", start, document=rng.choice(
                ("passport", "driving-licence", "birth-certificate")))
        if has_uln:
            on = min(start + timedelta(days=rng.randint(3, 21)), self.today)
            outcome = rng.random()
            if outcome < 0.88:
                self.event("lrs-result", ref, "", on, code="WSVRC001")
            elif outcome < 0.94:
                self.event("lrs-result", ref, "", on, code="WSVRC003", flags="VRF2")
            else:
                self.event("lrs-result", ref, "", on, code="WSVRC005", flags="VRF1;VRF7")

    def enrolment(self, person: dict[str, str], ref: str, course: Course, start: date) -> None:
        rng = self.rng
        weeks = rng.randint(*course.weeks)
        planned_end = start + timedelta(weeks=weeks)
        row: dict[str, Any] = {
            **person, "enrolment": ref, "awarding_body": course.awarding_body,
            "qualification": course.number, "qualification_title": course.title,
            "units": ";".join(rng.sample(course.units, min(2, len(course.units)))),
            "programme_start": _uk(start, rng), "planned_end": _uk(planned_end, rng),
            "apprenticeship": "Y" if course.apprenticeship else "N",
        }
        window = registration_window(self.book, course.awarding_body, start, planned_end)
        timing = rng.random()
        if timing < 0.14:
            submitted = start + timedelta(days=window + rng.randint(2, 60))
        elif timing < 0.18:
            submitted = None
        else:
            submitted = start + timedelta(days=rng.randint(3, int(window * 0.8)))
        submitted = self.past(submitted)
        capitals = person["given_name"].isupper()
        confirmed = None
        if submitted is not None and not capitals:
            confirmed = self.past(submitted + timedelta(days=rng.randint(1, 9)))
        elif submitted is not None and self.past(submitted + timedelta(days=3)):
            self.event("registration-rejected", person["learner"], ref,
                       submitted + timedelta(days=3), reason="Learner name in capitals")
        row["registration_submitted"] = _uk(submitted, rng)
        row["registration_confirmed"] = _uk(confirmed, rng)
        row["ao_reference"] = (f"{course.awarding_body}-{rng.randint(100000, 999999)}"
                               if confirmed else "")
        assessed = start + timedelta(days=rng.randint(14, 70))
        if confirmed is not None and assessed < confirmed and rng.random() < 0.7:
            assessed = confirmed + timedelta(days=rng.randint(1, 20))
        left = None
        if rng.random() < 0.13:
            left = self.past(start + timedelta(days=rng.randint(10, max(weeks * 7 - 1, 11))))
        if left is not None and assessed > left:
            assessed = None  # type: ignore[assignment]
        row["assessment_started"] = _uk(self.past(assessed), rng)
        row.update(self.withdrawal(left))
        row.update(self.completion(planned_end, left, confirmed))
        self.mis_rows.append({key: str(value) for key, value in row.items()})

    def withdrawal(self, left: date | None) -> dict[str, str]:
        rng = self.rng
        if left is None:
            return {"withdrawal_left": "", "withdrawal_reason": "", "withdrawal_notified": ""}
        late = rng.random() < 0.3
        notified = self.past(left + timedelta(days=rng.randint(31, 90) if late
                                              else rng.randint(1, 28)))
        return {"withdrawal_left": _uk(left, rng),
                "withdrawal_reason": rng.choice(WITHDRAWAL_REASONS),
                "withdrawal_notified": _uk(notified, rng)}

    def completion(self, planned_end: date, left: date | None,
                   confirmed: date | None) -> dict[str, str]:
        rng = self.rng
        empty = {"iqa_signed_off": "", "claim_submitted": "", "certificate_received": "",
                 "certificate_issued": "", "certificate_collected": ""}
        if left is not None or planned_end > self.today:
            return empty
        iqa = self.past(planned_end + timedelta(days=rng.randint(0, 20)))
        if iqa is None:
            return empty
        claim_base = iqa
        if rng.random() < 0.03:
            iqa = None  # claimed without an IQA sign-off: ineligible
        lag = rng.randint(20, 45) if rng.random() < 0.15 else rng.randint(1, 12)
        claimed = self.past(claim_base + timedelta(days=lag))
        if confirmed is None and rng.random() < 0.7:
            claimed = None
        received = self.past(claimed + timedelta(days=rng.randint(7, 21))) if claimed else None
        issued = (self.past(_weekday(received + timedelta(days=rng.choice((1, 2, 3, 4, 12)))))
                  if received else None)
        collected = (self.past(issued + timedelta(days=rng.randint(0, 30)))
                     if issued and rng.random() < 0.7 else None)
        return {"iqa_signed_off": _uk(iqa, rng), "claim_submitted": _uk(claimed, rng),
                "certificate_received": _uk(received, rng),
                "certificate_issued": _uk(issued, rng),
                "certificate_collected": _uk(collected, rng)}

    def event(self, kind: str, learner: str, enrolment: str, on: date, **values: str) -> None:
        self.event_rows.append({"event": kind, "centre": CENTRE, "learner": learner,
                                "enrolment": enrolment, "occurred_on": on.isoformat(),
                                **values})


def write_demo_files(mis_path: Path, events_path: Path, learners: int, seed: int,
                     today: date | None = None) -> None:
    """Write the centre's MIS export and its LRS/AO event rows as two CSV files."""
    generator = CentreGenerator(learners, seed, today or date.today())
    generator.generate()
    for path, layout, rows in ((mis_path, MIS_EXPORT, generator.mis_rows),
                               (events_path, EVENTS, generator.event_rows)):
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(layout.columns), restval="")
            writer.writeheader()
            writer.writerows(rows)
