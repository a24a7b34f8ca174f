"""Maladministration findings as data: each names its rule, its dates and its evidence events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from projections.late_registrations import late_registrations, submission
from projections.policy import PolicyLike, RuleLike, add_days, add_months, describe_days
from projections.timeline import Fact, LearnerView, Timeline, as_on, day

FINDING_COLUMNS = (
    "rule", "awarding_body", "rule_version", "clause", "severity", "learner", "enrolment",
    "dates", "evidence", "message", "citation",
)


@dataclass(frozen=True)
class Finding:
    """One breach of one rule, with the events that prove it."""

    rule: str
    awarding_body: str
    rule_version: str
    clause: str
    severity: str
    centre: str
    learner: str | None
    enrolment: str | None
    dates: dict[str, date | None]
    evidence: list[int]
    message: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    citation: str = field(default="", compare=False)  # e.g. `AIM policy-1.0 clause 3.2`
    # a finding of something not done by a deadline stands only when judged after it
    due_after: date | None = field(default=None, compare=False)

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("extra")
        row.pop("due_after")
        return row

    def stands_on(self, on: date) -> bool:
        """Whether the finding stands when judged on `on` (its deadline has passed)."""
        return self.due_after is None or on > self.due_after


def finding(rule: RuleLike, centre: str, learner: str | None, enrolment: str | None,
            dates: dict[str, date | None], evidence: Iterable[int], message: str,
            due_after: date | None = None) -> Finding:
    """A finding of the rule; `due_after`: it stands only when judged after this date."""
    return Finding(rule.id, rule.awarding_body, rule.version, rule.clause, rule.severity,
                   centre, learner, enrolment, dates, sorted(set(evidence)), message,
                   citation=rule.reference, due_after=due_after)


EnrolmentCheck = Callable[[LearnerView, Fact, RuleLike, Any], Iterator[Finding]]


def check_assessment(view: LearnerView, enrolled: Fact, rule: RuleLike,
                     calendar: Any) -> Iterator[Finding]:
    ref = enrolled["enrolment"]
    started = view.last("AssessmentStarted", ref)
    if started is None:
        return
    confirmed = view.last("RegistrationConfirmed", ref)
    start_day = day(started)
    if confirmed is not None and day(confirmed) <= start_day:
        return
    evidence = [started["position"]] + ([confirmed["position"]] if confirmed else [])
    when = "was not confirmed" if confirmed is None else (
        f"was confirmed only on {day(confirmed).isoformat()}")
    yield finding(rule, view.centre, view.reference, ref,
                  {"assessment_started": start_day,
                   "confirmed": day(confirmed) if confirmed else None}, evidence,
                  f"assessment started on {start_day.isoformat()} but the registration {when}")


def check_withdrawal(view: LearnerView, enrolled: Fact, rule: RuleLike,
                     calendar: Any) -> Iterator[Finding]:
    ref = enrolled["enrolment"]
    withdrawn = view.last("Withdrawn", ref)
    if withdrawn is None or submission(view, ref) is None:
        return  # only a registration the AO holds needs withdrawing
    left = day(withdrawn, "left_on")
    deadline = add_days(left, rule.params["days"], rule.params["unit"], calendar)
    window = describe_days(rule.params["days"], rule.params["unit"])
    evidence = [withdrawn["position"]]
    notified: date | None = None
    if withdrawn["values"].get("notified_on"):
        notified = day(withdrawn, "notified_on")
    else:
        notice = view.last("WithdrawalNotified", ref)
        if notice is not None:
            notified, evidence = day(notice), [*evidence, notice["position"]]
    dates = {"left": left, "deadline": deadline, "notified": notified}
    if notified is not None and notified > deadline:
        yield finding(rule, view.centre, view.reference, ref, dates, evidence,
                      f"withdrawal notified to the AO on {notified.isoformat()}, "
                      f"{describe_days((notified - deadline).days, 'calendar')} after the "
                      "deadline "
                      f"{deadline.isoformat()} ({window} of leaving on {left.isoformat()})")
    elif notified is None:
        yield finding(rule, view.centre, view.reference, ref, dates, evidence,
                      f"withdrawal not notified to the AO by {deadline.isoformat()} "
                      f"({window} of leaving on {left.isoformat()})", due_after=deadline)


CLAIM_REASONS = {
    "iqa-sign-off": "no IQA sign-off",
    "registration-confirmed": "registration not confirmed",
    "units-complete": "units not recorded as complete",
    "eqa-sampling": "EQA sampling required but not done",
}


def check_claim_eligibility(view: LearnerView, enrolled: Fact, rule: RuleLike,
                            calendar: Any) -> Iterator[Finding]:
    """A claim breaks each condition the rule requires that did not hold on the claim date;
    a certificate received on such a claim is evidence too."""
    ref = enrolled["enrolment"]
    claim = view.last("ClaimSubmitted", ref)
    if claim is None:
        return
    claimed = day(claim)
    requires = rule.params.get("requires") or [
        "iqa-sign-off", "registration-confirmed", "not-withdrawn"]
    proof = [claim["position"]] + [f["position"] for f in view.of("CertificateReceived", ref)]
    def by_claim(event: str) -> bool:
        return any(day(f) <= claimed for f in view.of(event, ref))

    held = {
        "iqa-sign-off": by_claim("IqaSignedOff"),
        "registration-confirmed": by_claim("RegistrationConfirmed"),
        "units-complete": by_claim("UnitsCompleted"),
        "eqa-sampling": not by_claim("EqaSamplingRequired") or by_claim("EqaSampled"),
    }
    reasons = [(CLAIM_REASONS[condition], []) for condition in CLAIM_REASONS
               if condition in requires and not held[condition]]
    withdrawn = [f for f in view.of("Withdrawn", ref) if day(f, "left_on") <= claimed]
    if "not-withdrawn" in requires and withdrawn:
        reasons.append((f"learner withdrawn (left on {day(withdrawn[-1], 'left_on')})",
                        [withdrawn[-1]["position"]]))
    for reason, more in reasons:
        yield finding(rule, view.centre, view.reference, ref, {"claimed": claimed},
                      [*proof, *more],
                      f"certificate claimed on {claimed.isoformat()} for an ineligible "
                      f"enrolment: {reason}")


def check_uln_apprenticeship(view: LearnerView, enrolled: Fact, rule: RuleLike,
                             calendar: Any) -> Iterator[Finding]:
    """An Apprenticeship Standard registered (a standing submission) with no ULN on the
    learner's record on the submission date (one the LRS rejected counts as none)."""
    ref = enrolled["enrolment"]
    submitted = submission(view, ref)
    if not enrolled["values"].get("apprenticeship") or submitted is None:
        return
    when = day(submitted)
    has_uln = False
    for fact in view.facts:
        event = fact["event"]
        if event == "Recorded":
            has_uln = bool(fact["values"].get("uln"))
        elif event in ("UlnRecorded", "LrsResultRecorded") and day(fact) <= when:
            has_uln = event == "UlnRecorded" or fact["values"]["outcome"] != "rejected"
    if not has_uln:
        yield finding(rule, view.centre, view.reference, ref, {"submitted": when},
                      [enrolled["position"], submitted["position"]],
                      f"apprenticeship registered on {when.isoformat()} without a ULN")


def check_registration_check(view: LearnerView, enrolled: Fact, rule: RuleLike,
                             calendar: Any) -> Iterator[Finding]:
    """The standing submission checked for accuracy within the rule's days (AIM 3.4): a
    finding when the first check after it came late, or none came by the deadline."""
    ref = enrolled["enrolment"]
    submitted = submission(view, ref)
    if submitted is None:
        return
    sent = day(submitted)
    deadline = add_days(sent, rule.params["days"], rule.params["unit"], calendar)
    window = describe_days(rule.params["days"], rule.params["unit"])
    checks = [f for f in view.of("RegistrationChecked", ref) if day(f) >= sent]
    checked = min(checks, key=day) if checks else None
    dates = {"submitted": sent, "deadline": deadline,
             "checked": day(checked) if checked else None}
    if checked is not None and day(checked) > deadline:
        yield finding(rule, view.centre, view.reference, ref, dates,
                      [submitted["position"], checked["position"]],
                      f"registration checked on {day(checked).isoformat()}, after the deadline "
                      f"{deadline.isoformat()} ({window} from submission on {sent.isoformat()})")
    elif checked is None:
        yield finding(rule, view.centre, view.reference, ref, dates, [submitted["position"]],
                      f"registration not checked by {deadline.isoformat()} ({window} from "
                      f"submission on {sent.isoformat()})", due_after=deadline)


def _step_deadline(
    view: LearnerView, enrolled: Fact, rule: RuleLike, calendar: Any,
    start_event: str, end_event: str, start_name: str, end_name: str, what: str,
) -> Iterator[Finding]:
    ref = enrolled["enrolment"]
    begun = view.last(start_event, ref)
    if begun is None:
        return
    begin = day(begun)
    deadline = add_days(begin, rule.params["days"], rule.params["unit"], calendar)
    window = describe_days(rule.params["days"], rule.params["unit"])
    done = view.last(end_event, ref)
    dates = {start_name: begin, "deadline": deadline, end_name: day(done) if done else None}
    if done is not None and day(done) > deadline:
        yield finding(rule, view.centre, view.reference, ref, dates,
                      [begun["position"], done["position"]],
                      f"{what} on {day(done).isoformat()}, after the deadline "
                      f"{deadline.isoformat()} ({window} from {begin.isoformat()})")
    elif done is None and view.last("Withdrawn", ref) is None:
        yield finding(rule, view.centre, view.reference, ref, dates, [begun["position"]],
                      f"not {what.split(' ')[-1]} by the deadline {deadline.isoformat()} "
                      f"({window} from {begin.isoformat()})", due_after=deadline)


def check_claim_deadline(view: LearnerView, enrolled: Fact, rule: RuleLike,
                         calendar: Any) -> Iterator[Finding]:
    yield from _step_deadline(view, enrolled, rule, calendar, "IqaSignedOff",
                              "ClaimSubmitted", "iqa_signed_off", "claimed",
                              "certificate claimed")


def check_certificate_issue(view: LearnerView, enrolled: Fact, rule: RuleLike,
                            calendar: Any) -> Iterator[Finding]:
    yield from _step_deadline(view, enrolled, rule, calendar, "CertificateReceived",
                              "CertificateIssued", "received", "issued",
                              "certificate issued")


ENROLMENT_CHECKS: dict[str, EnrolmentCheck] = {
    "assessment-before-registration": check_assessment,
    "withdrawal-notification": check_withdrawal,
    "claim-eligibility": check_claim_eligibility,
    "uln-apprenticeship": check_uln_apprenticeship,
    "registration-check": check_registration_check,
    "claim-deadline": check_claim_deadline,
    "certificate-issue": check_certificate_issue,
}


# ----- learner-level checks: reported once per AO the learner is enrolled with -------------

LearnerCheck = Callable[[LearnerView, RuleLike], Iterator[Finding]]


def check_uln_rejected(view: LearnerView, rule: RuleLike) -> Iterator[Finding]:
    last_uln: Fact | None = None
    for fact in view.facts:
        if fact["event"] == "UlnRecorded" or (
            fact["event"] == "Recorded" and fact["values"].get("uln")
        ) or fact["event"] == "LrsResultRecorded":
            last_uln = fact
    if last_uln is None or last_uln["event"] != "LrsResultRecorded" or (
        last_uln["values"]["outcome"] != "rejected"
    ):
        return
    rejected = day(last_uln)
    due = rejected + timedelta(days=rule.params.get("days") or 0)
    values = last_uln["values"]
    yield finding(rule, view.centre, view.reference, None,
                  {"rejected": rejected, "deadline": due}, [last_uln["position"]],
                  f"ULN rejected by the LRS ({values['code']}) on "
                  f"{rejected.isoformat()} and not corrected", due_after=due)


def check_lrs_reverification(view: LearnerView, rule: RuleLike) -> Iterator[Finding]:
    confirmed: Fact | None = None
    pending: list[Fact] = []
    fields = rule.params.get("fields")
    for fact in view.facts:
        if fact["event"] == "LrsResultRecorded":
            pending = []
            confirmed = fact if fact["values"]["outcome"] == "confirmed" else None
        elif fact["event"] == "UlnRecorded":
            confirmed, pending = None, []
        elif (fact["event"] == "DetailsAmended" and fact["values"].get("lrs_field") and confirmed
              and (fields is None or fact["values"]["field"] in fields)):
            pending.append(fact)
    for amended in pending:
        assert confirmed is not None
        yield finding(rule, view.centre, view.reference, None,
                      {"confirmed": day(confirmed), "amended": day(amended)},
                      [confirmed["position"], amended["position"]],
                      f"{amended['values']['field']} amended on {day(amended).isoformat()} "
                      f"after the ULN was confirmed on {day(confirmed).isoformat()}, "
                      f"without a new LRS verification")


def check_data_quality(view: LearnerView, rule: RuleLike) -> Iterator[Finding]:
    """Warnings of the learner's record and enrolments, and of each amendment's new value:
    an amendment replaces the warnings of its field with its own, so a finding closes only
    when the new value passes the check."""
    codes = set(rule.params["codes"])
    open_by_field: dict[str, list[tuple[dict[str, str], Fact]]] = {}
    for fact in view.facts:
        if fact["event"] in ("Recorded", "Enrolled"):
            for warning in fact["values"].get("warnings") or []:
                open_by_field.setdefault(warning["field"], []).append((warning, fact))
        elif fact["event"] == "DetailsAmended":
            open_by_field[fact["values"]["field"]] = [
                (warning, fact) for warning in fact["values"].get("warnings") or []]
    still_open = [pair for pairs in open_by_field.values() for pair in pairs]
    still_open.sort(key=lambda pair: pair[1]["position"])
    for warning, fact in still_open:
        if warning["code"] in codes:
            yield finding(rule, view.centre, view.reference, fact["enrolment"],
                          {"recorded": day(fact)}, [fact["position"]],
                          f"{warning['code']}: {warning['field']} not corrected")


LEARNER_CHECKS: dict[str, LearnerCheck] = {
    "uln-rejected-uncorrected": check_uln_rejected,
    "lrs-reverification": check_lrs_reverification,
    "data-quality": check_data_quality,
}


def learner_findings(view: LearnerView, rules: Mapping[str, RuleLike],
                     body: str) -> Iterator[Finding]:
    for rule_id, check in LEARNER_CHECKS.items():
        if rule_id in rules:
            for found in check(view, rules[rule_id]):
                if found.enrolment is None or _enrolment_body(view, found.enrolment) == body:
                    yield found


def _enrolment_body(view: LearnerView, enrolment: str) -> str | None:
    enrolled = view.last("Enrolled", enrolment)
    return None if enrolled is None else enrolled["values"]["awarding_body"]


def timeline_findings(view: LearnerView, policy: PolicyLike,
                      awarding_body: str | None = None) -> Iterator[tuple[str, Finding]]:
    """Every finding of the learner's checks, whatever the judging date (a finding with a
    `due_after` stands only after it), each with the awarding body of the enrolments it was
    found for (of `awarding_body` only, when given), in the report's order of ties."""
    seen_bodies: set[str] = set()
    for enrolled in view.enrolments():
        body = enrolled["values"]["awarding_body"]
        if awarding_body is not None and body != awarding_body:
            continue
        rules = policy.rules_in_force(body, day(enrolled, "programme_start"))
        if rules is None:
            continue
        calendar = policy.calendar_for(view.centre)
        for rule_id, check in ENROLMENT_CHECKS.items():
            if rule_id in rules:
                yield from ((body, found) for found in check(view, enrolled, rules[rule_id],
                                                              calendar))
        if body not in seen_bodies:
            seen_bodies.add(body)
            yield from ((body, found) for found in learner_findings(view, rules, body))


def late_finding(row: Any, policy: PolicyLike, on: date) -> Finding:
    """The finding of a late or overdue registration row judged on `on`."""
    rules = policy.rules_in_force(row.awarding_body, row.programme_start)
    assert rules is not None
    rule = rules["late-registration"]
    when = (f"submitted on {row.submitted.isoformat()}" if row.submitted
            else f"not submitted before the learner left on {row.left.isoformat()}"
            if row.left and row.left < on else f"not submitted by {on.isoformat()}")
    return finding(
        rule, row.centre, row.learner, row.enrolment,
        {"programme_start": row.programme_start, "deadline": row.deadline,
         "submitted": row.submitted}, row.evidence,
        f"registration {row.status}: {when}, {describe_days(row.days_late, 'calendar')} "
        "after the deadline "
        f"{row.deadline.isoformat()} ({row.rule.rsplit(': ', 1)[-1]} from the start)")


def finding_order(found: Finding) -> tuple[Any, ...]:
    """The report's order: centre, AO, learner, enrolment, rule, evidence."""
    return (found.centre, found.awarding_body, found.learner or "", found.enrolment or "",
            found.rule, found.evidence)


# ----- the report ---------------------------------------------------------------------------

def maladministration(
    timelines: Iterable[Timeline], policy: PolicyLike, on: date,
    awarding_body: str | None = None, centre: str | None = None,
) -> list[Finding]:
    """Every finding for the selected enrolments, sorted by centre, AO, learner and rule."""
    timelines = list(timelines)
    rows, _ = late_registrations(timelines, policy, on, awarding_body, centre)
    late_rows = [r for r in rows if r.status in ("late", "overdue")]
    found = [late_finding(row, policy, on) for row in late_rows]
    found.extend(persistent_late(late_rows, policy))
    for timeline in timelines:
        if centre is not None and timeline["centre"] != centre:
            continue
        view = LearnerView(as_on(timeline, on))
        found.extend(item for _body, item in timeline_findings(view, policy, awarding_body)
                     if item.stands_on(on))
    found.sort(key=finding_order)
    return found


def persistent_late(rows: list[Any], policy: PolicyLike) -> Iterator[Finding]:
    """Per centre and AO: the first window of `window_months` holding `count` late ones."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.centre, row.awarding_body), []).append(row)
    for (centre, _body), group in sorted(groups.items()):
        group.sort(key=lambda r: (r.deadline, r.learner, r.enrolment))
        for last_index, last in enumerate(group):
            rules = policy.rules_in_force(last.awarding_body, last.programme_start)
            if rules is None or "persistent-late-registration" not in rules:
                continue
            rule = rules["persistent-late-registration"]
            count, months = rule.params["count"], rule.params["window_months"]
            window = [r for r in group[: last_index + 1]
                      if add_months(r.deadline, months) > last.deadline]
            if len(window) >= count:
                evidence = [p for r in window for p in r.evidence]
                yield finding(
                    rule, centre, None, None,
                    {"from": window[0].deadline, "to": last.deadline}, evidence,
                    f"{len(window)} late registrations with deadlines from "
                    f"{window[0].deadline.isoformat()} to {last.deadline.isoformat()} "
                    f"(threshold {count} in {months} months; {len(group)} late in all)")
                break
