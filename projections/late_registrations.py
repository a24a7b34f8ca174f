"""The late-registration report: one row per enrolment, judged on a date by the rule in force."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from projections.policy import PolicyLike, RuleLike, add_days, describe_days
from projections.timeline import Fact, LearnerView, Timeline, as_on, day

LATE_COLUMNS = (
    "learner", "enrolment", "awarding_body", "programme_start", "deadline", "submitted",
    "status", "days_late", "rule",
)
STATUSES = ("late", "overdue", "at-risk", "on-time")


@dataclass(frozen=True)
class RegistrationRow:
    """One enrolment's registration against its deadline."""

    learner: str
    enrolment: str
    awarding_body: str
    programme_start: date
    deadline: date
    submitted: date | None
    status: str
    days_late: int
    rule: str
    centre: str
    rule_version: str
    clause: str
    evidence: list[int] = field(default_factory=list)
    left: date | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


NO_RULE_SET = "no rule set for this awarding body"
BEFORE_FIRST_VERSION = "starts before the first version of its rule set"
NO_LATE_RULE = "its rule set has no late-registration rule"


@dataclass(frozen=True)
class Unjudged:
    """An enrolment whose AO has no rule set in force on its programme start, and why."""

    learner: str
    enrolment: str
    awarding_body: str
    programme_start: date
    reason: str = NO_RULE_SET
    centre: str = field(default="", compare=False)


def unjudged_reason(policy: PolicyLike, awarding_body: str, start: date) -> str | None:
    """Why no late-registration rule judges an enrolment, or None when one does."""
    if "late-registration" in (policy.rules_in_force(awarding_body, start) or {}):
        return None
    if not policy.has_rule_set(awarding_body):
        return NO_RULE_SET  # the ledger's own rules apply to it, but none is a deadline
    if "late-registration" in (policy.rules_in_force(awarding_body, date.max) or {}):
        return BEFORE_FIRST_VERSION
    return NO_LATE_RULE


def unjudged_counts(unjudged: Iterable[Unjudged]) -> list[dict[str, Any]]:
    """How many enrolments are not judged, by awarding body and reason."""
    counts: dict[tuple[str, str], int] = {}
    for item in unjudged:
        key = (item.awarding_body, item.reason)
        counts[key] = counts.get(key, 0) + 1
    return [{"awarding_body": body, "reason": reason, "enrolments": count}
            for (body, reason), count in sorted(counts.items())]


def registration_deadline(rule: RuleLike, start: date, planned_end: date,
                          calendar: Any) -> tuple[date, str]:
    """The deadline and its description: short or long course by the rule's week boundary."""
    params = rule.params
    days, unit = params["days"], params["unit"]
    weeks = params.get("short_max_weeks")
    if weeks is not None and (planned_end - start).days > weeks * 7:
        days, unit = params["long_days"], params["long_unit"]
    return add_days(start, days, unit, calendar), describe_days(days, unit)


def submission(view: LearnerView, enrolment: str) -> Fact | None:
    """The registration submission that stands: the latest, unless the AO then rejected it."""
    state: Fact | None = None
    for fact in view.facts:
        if fact["enrolment"] != enrolment:
            continue
        if fact["event"] == "RegistrationSubmitted":
            state = fact
        elif fact["event"] == "RegistrationRejected":
            state = None
    return state


@dataclass(frozen=True)
class RegistrationFacts:
    """What judges an enrolment's registration whatever the judging date: its deadline, the
    standing submission, the day the learner left, the rule cited and the evidence."""

    learner: str
    enrolment: str
    awarding_body: str
    programme_start: date
    deadline: date
    submitted: date | None
    rule: str
    centre: str
    rule_version: str
    clause: str
    evidence: list[int]
    left: date | None

    def judged(self, status: str, days_late: int) -> RegistrationRow:
        """The report's row: these facts with the status and days late of a judging date."""
        return RegistrationRow(
            learner=self.learner, enrolment=self.enrolment, awarding_body=self.awarding_body,
            programme_start=self.programme_start, deadline=self.deadline,
            submitted=self.submitted, status=status, days_late=days_late, rule=self.rule,
            centre=self.centre, rule_version=self.rule_version, clause=self.clause,
            evidence=list(self.evidence), left=self.left)


def registration_facts(view: LearnerView, enrolled: Fact, rule: RuleLike,
                       calendar: Any) -> RegistrationFacts:
    """The judgement's inputs that do not depend on the judging date."""
    ref, values = enrolled["enrolment"], enrolled["values"]
    start = date.fromisoformat(values["programme_start"])
    end = date.fromisoformat(values["planned_end"])
    deadline, window = registration_deadline(rule, start, end, calendar)
    submitted_fact = submission(view, ref)
    withdrawn = view.last("Withdrawn", ref)
    evidence = [enrolled["position"]]
    submitted = None
    if submitted_fact is not None:
        submitted = day(submitted_fact)
        evidence.append(submitted_fact["position"])
    elif withdrawn is not None:
        evidence.append(withdrawn["position"])
    return RegistrationFacts(
        learner=view.reference, enrolment=ref, awarding_body=values["awarding_body"],
        programme_start=start, deadline=deadline, submitted=submitted,
        rule=f"{rule.reference}: {window}", centre=view.centre, rule_version=rule.version,
        clause=rule.clause, evidence=evidence,
        left=None if withdrawn is None else day(withdrawn, "left_on"))


def status_on(facts: RegistrationFacts, on: date, at_risk_limit: date) -> tuple[str, int]:
    """Status and days late on `on`: late, overdue, at-risk (deadline by `at_risk_limit`,
    the day `reports.at_risk_working_days` working days after `on`) or on-time.
    An unregistered learner who left is judged up to the day they left, not beyond.
    (`ledger.reporting.report_queries` says the same in SQL: keep them alike.)"""
    deadline = facts.deadline
    if facts.submitted is not None:
        if facts.submitted > deadline:
            return "late", (facts.submitted - deadline).days
        return "on-time", 0
    left_in_time = facts.left is not None and facts.left <= deadline
    if left_in_time:
        return "on-time", 0
    if on > deadline:
        judged_to = on if facts.left is None else min(on, facts.left)
        return "overdue", (judged_to - deadline).days
    if at_risk_limit >= deadline:
        return "at-risk", 0
    return "on-time", 0


def judge(
    view: LearnerView, enrolled: Fact, rule: RuleLike, calendar: Any, on: date,
    at_risk_days: int,
) -> RegistrationRow:
    """Status on `on` (see `status_on`) of the enrolment's facts (`registration_facts`)."""
    facts = registration_facts(view, enrolled, rule, calendar)
    return facts.judged(*status_on(facts, on, calendar.add_working_days(on, at_risk_days)))


def selected(view: LearnerView, enrolled: Fact, awarding_body: str | None,
             centre: str | None) -> bool:
    """Whether the enrolment passes the --awarding-body and --centre filters."""
    return (awarding_body is None or enrolled["values"]["awarding_body"] == awarding_body) and (
        centre is None or view.centre == centre)


def late_registrations(
    timelines: Iterable[Timeline], policy: PolicyLike, on: date,
    awarding_body: str | None = None, centre: str | None = None,
) -> tuple[list[RegistrationRow], list[Unjudged]]:
    """Every selected enrolment's row, sorted, and the enrolments no rule set covers."""
    rows, unjudged = [], []
    for view, enrolled, body, start, reason in _enrolments(timelines, policy, on,
                                                           awarding_body, centre):
        if reason is not None:
            unjudged.append(Unjudged(view.reference, enrolled["enrolment"], body, start, reason,
                                     view.centre))
            continue
        rules = policy.rules_in_force(body, start)
        assert rules is not None
        rows.append(judge(view, enrolled, rules["late-registration"],
                          policy.calendar_for(view.centre), on, policy.at_risk_working_days))
    rows.sort(key=lambda r: (r.centre, r.awarding_body, r.deadline, r.learner, r.enrolment))
    unjudged.sort(key=lambda u: (u.centre, u.awarding_body, u.learner, u.enrolment))
    return rows, unjudged


def unjudged_enrolments(
    timelines: Iterable[Timeline], policy: PolicyLike, on: date,
    awarding_body: str | None = None, centre: str | None = None,
) -> list[Unjudged]:
    """The selected enrolments no late-registration rule judges, with why: the same ones,
    judged on the same date, as `late_registrations` lists apart."""
    found = [Unjudged(view.reference, enrolled["enrolment"], body, start, reason, view.centre)
             for view, enrolled, body, start, reason in _enrolments(
                 timelines, policy, on, awarding_body, centre) if reason is not None]
    found.sort(key=lambda u: (u.centre, u.awarding_body, u.learner, u.enrolment))
    return found


def _enrolments(
    timelines: Iterable[Timeline], policy: PolicyLike, on: date,
    awarding_body: str | None, centre: str | None,
) -> Iterator[tuple[LearnerView, dict[str, Any], str, date, str | None]]:
    """Each selected enrolment as the ledger knew it on `on` (started by then), with its
    awarding body, programme start and why no rule judges it (None when one does)."""
    for timeline in timelines:
        view = LearnerView(as_on(timeline, on))
        for enrolled in view.enrolments():
            if not selected(view, enrolled, awarding_body, centre):
                continue
            body = enrolled["values"]["awarding_body"]
            start = date.fromisoformat(enrolled["values"]["programme_start"])
            yield view, enrolled, body, start, unjudged_reason(policy, body, start)
