"""Idempotent planning: apply a parsed row to a learner, recording only facts the ledger lacks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from aggregates.details import amended_age_warnings
from aggregates.errors import LedgerError
from aggregates.learner import DETAIL_FIELDS, Context, Fact, Learner
from aggregates.values import check_age_at_start
from ledger.imports.problems import RowError, refusal
from ledger.imports.rows import EnrolmentFacts, EventRow, LearnerRow, ParsedRow


class column:  # lower case: it reads as a function, `with column(name):`
    """Report a domain refusal inside the block as a problem with this column.

    A class, not a generator-based context manager: an import enters one for nearly every
    fact it plans, and this costs a fraction as much.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _traceback: object) -> None:
        if isinstance(error, LedgerError) and not isinstance(error, RowError):
            message = getattr(error, "message", None) or str(error)
            raise RowError(self.name, message) from None


def conflict(name: str, what: str, recorded: Any, given: Any) -> RowError:
    return RowError(name, f"the ledger records {what} as {_show(recorded)} but the file says "
                          f"{_show(given)}; retract the recorded event to correct it")


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else repr(value)


def apply_row(learner: Learner | None, row: ParsedRow, ctx: Context, today: date,
              file_name: str) -> Learner:
    """The learner with this row's new facts pending (a new learner if `learner` is None)."""
    if isinstance(row, LearnerRow):
        learner = _learner(learner, row, ctx, today, file_name)
        _enrolment(learner, row.enrolment, ctx)
        return learner
    if learner is None:
        raise RowError("learner", f"no learner {row.reference!r} at centre {row.centre} in the "
                                  "ledger or earlier in the file")
    _event(learner, row, ctx)
    return learner


def _learner(learner: Learner | None, row: LearnerRow, ctx: Context, today: date,
             file_name: str) -> Learner:
    if learner is None:
        with column("learner"):
            return Learner.record(row.centre, row.reference, row.details, row.uln, row.warnings,
                                  today, ctx)
    for name in DETAIL_FIELDS:
        new = row.details.get(name)
        if new is not None and learner.detail(name) != new:
            with column(name):
                found = [w for w in row.warnings if w["field"] == name]
                learner.amend(name, new, f"differs in {file_name}", today, ctx,
                              found + amended_age_warnings(learner, name, new))
    _uln(learner, row.uln, today, ctx)
    return learner


def _uln(learner: Learner, uln: str | None, on: date, ctx: Context) -> None:
    """Record a ULN unless it is the one last recorded (even if the LRS since rejected it)."""
    if uln is None:
        return
    last = learner.latest("uln")
    if last is not None and last.values["uln"] == uln:
        return
    with column("uln"):
        learner.record_uln(uln, on, ctx)


def once(learner: Learner, kind: str, ref: str, on: date | None, name: str, what: str,
         record: Callable[[], None]) -> None:
    """Record a one-off fact unless it is already recorded on the same date; refuse another date."""
    if on is None:
        return
    fact = learner.latest(kind, ref)
    if fact is None:
        with column(name):
            record()
    elif fact.occurred_on != on:
        raise conflict(name, f"{what} of {ref}", fact.occurred_on, on)


ENROLMENT_ATTRIBUTES = (
    ("awarding_body", "awarding_body", "the awarding body"),
    ("qualification", "qualification", "the qualification"),
    ("programme_start", "programme_start", "the programme start"),
    ("planned_end", "planned_end", "the planned end"),
    ("apprenticeship", "apprenticeship", "apprenticeship"),
)


def _enrolment(learner: Learner, facts: EnrolmentFacts, ctx: Context) -> None:
    ref = facts.ref
    existing = learner.latest("enrolled", ref)
    if existing is None:
        born = learner.detail("date_of_birth")
        warnings = [w.as_dict() for w in check_age_at_start(born, facts.start)]
        with column("enrolment"):
            learner.enrol(ref, facts.awarding_body, facts.qualification, facts.title,
                          list(facts.units), facts.start, facts.planned_end,
                          facts.apprenticeship, warnings, ctx)
    else:
        given = {"awarding_body": facts.awarding_body, "qualification": facts.qualification,
                 "programme_start": facts.start, "planned_end": facts.planned_end,
                 "apprenticeship": facts.apprenticeship}
        conflicts = [conflict(name, f"{what} of {ref}", existing.values[key], given[key])
                     for key, name, what in ENROLMENT_ATTRIBUTES
                     if existing.values[key] != given[key]]
        if conflicts:
            raise refusal(conflicts)
    steps: list[Callable[[], None]] = [lambda: _registration(learner, facts, ctx)]
    for kind, day, name, what, method in (
        ("assessment-started", facts.assessment_started, "assessment_started",
         "assessment start", "start_assessment"),
        ("iqa-signed-off", facts.iqa_signed_off, "iqa_signed_off", "the IQA sign-off",
         "sign_off_iqa"),
        ("claim-submitted", facts.claimed, "claim_submitted", "the claim", "submit_claim"),
        ("certificate-received", facts.received, "certificate_received",
         "certificate received", "receive_certificate"),
        ("certificate-issued", facts.issued, "certificate_issued", "certificate issued",
         "issue_certificate"),
        ("certificate-collected", facts.collected, "certificate_collected",
         "certificate collected", "collect_certificate"),
        ("learning-completed", facts.completed, "learning_completed", "completion of learning",
         "complete_learning"),
        ("achieved", facts.achieved, "achieved", "achievement", "record_achievement"),
    ):
        if day is not None:  # the command is looked up only when there is a fact to record
            steps.append(lambda kind=kind, day=day, name=name, what=what, method=method: once(
                learner, kind, ref, day, name, what,
                lambda: getattr(learner, method)(ref, day, ctx)))
    steps.append(lambda: _withdrawal(learner, facts, ctx))
    every_step(steps)


def every_step(steps: list[Callable[[], None]]) -> None:
    """Run every step of a row; refuse it with every problem found, not only the first."""
    errors: list[RowError] = []
    for step in steps:
        try:
            step()
        except RowError as error:
            errors.append(error)
    if errors:
        raise refusal(errors)


def _last_submission(learner: Learner, ref: str) -> Fact | None:
    return learner.latest("registration-submitted", ref)


def _registration(learner: Learner, facts: EnrolmentFacts, ctx: Context) -> None:
    ref = facts.ref
    if facts.submitted is None:
        return
    state, fact = learner.registration(ref)
    submission = _last_submission(learner, ref)
    if state == "none" or (state == "rejected" and submission is not None
                           and submission.occurred_on != facts.submitted):
        with column("registration_submitted"):
            learner.submit_registration(ref, facts.submitted, ctx)
        state = "submitted"
    elif submission is not None and submission.occurred_on != facts.submitted:
        raise conflict("registration_submitted", f"the registration of {ref}",
                       submission.occurred_on, facts.submitted)
    if facts.confirmed is None:
        return
    if state == "confirmed":
        assert fact is not None
        if fact.occurred_on != facts.confirmed:
            raise conflict("registration_confirmed", f"the confirmation of {ref}",
                           fact.occurred_on, facts.confirmed)
        if fact.values["ao_reference"] != facts.ao_reference:
            raise conflict("ao_reference", f"the AO reference of {ref}",
                           fact.values["ao_reference"], facts.ao_reference)
        return
    with column("registration_confirmed"):
        learner.confirm_registration(ref, facts.confirmed, facts.ao_reference or "", ctx)


def _withdrawal(learner: Learner, facts: EnrolmentFacts, ctx: Context) -> None:
    ref = facts.ref
    if facts.left is None:
        return
    fact = learner.latest("withdrawn", ref)
    if fact is None:
        with column("withdrawal_left"):
            learner.withdraw(ref, facts.left, facts.withdrawal_reason or "", facts.notified, ctx)
        return
    if fact.values["left_on"] != facts.left:
        raise conflict("withdrawal_left", f"the leaving date from {ref}", fact.values["left_on"],
                       facts.left)
    if fact.values["reason"] != facts.withdrawal_reason:
        raise conflict("withdrawal_reason", f"the withdrawal reason for {ref}",
                       fact.values["reason"], facts.withdrawal_reason)
    if facts.notified is None:
        return
    notified = fact.values["notified_on"]
    if notified is None:
        later = learner.latest("withdrawal-notified", ref)
        notified = later.occurred_on if later is not None else None
    if notified is None:
        with column("withdrawal_notified"):
            learner.notify_withdrawal(ref, facts.notified, ctx)
    elif notified != facts.notified:
        raise conflict("withdrawal_notified", f"the AO notification of the withdrawal from {ref}",
                       notified, facts.notified)


def _event(learner: Learner, row: EventRow, ctx: Context) -> None:
    kind, ref, on, values = row.kind, row.enrolment or "", row.occurred_on, row.values
    if kind == "uln":
        _uln(learner, values["uln"], on, ctx)
    elif kind == "lrs-result":
        same = [f for f in learner.live_facts() if f.kind == "lrs-result"
                and f.occurred_on == on and f.values["code"] == values["code"]]
        if not same:
            with column("code"):
                learner.record_lrs_result(values["code"], values["flags"], values["master_uln"],
                                          on, ctx)
    elif kind == "id-verified":
        same = [f for f in learner.live_facts() if f.kind == "id-verified"
                and f.occurred_on == on and f.values["document"] == values["document"]]
        if not same:
            with column("document"):
                learner.verify_id(values["document"], on, ctx)
    elif kind == "amended":
        same = [f for f in learner.live_facts() if f.kind == "amended" and f.occurred_on == on
                and f.values["field"] == values["field"] and f.values["new"] == values["value"]]
        if not same and learner.detail(values["field"]) != values["value"]:
            with column("value"):
                learner.amend(values["field"], values["value"], values["reason"], on, ctx,
                              values["warnings"] + amended_age_warnings(
                                  learner, values["field"], values["value"]))
    elif kind == "registration-submitted":
        submission = _last_submission(learner, ref)
        if submission is None or submission.occurred_on != on:
            with column("occurred_on"):
                learner.submit_registration(ref, on, ctx)
    elif kind == "registration-confirmed":
        _decision(learner, ref, on, "confirmed",
                  lambda: learner.confirm_registration(ref, on, values["ao_reference"], ctx))
    elif kind == "registration-rejected":
        _decision(learner, ref, on, "rejected",
                  lambda: learner.reject_registration(ref, on, values["reason"], ctx))
    elif kind == "withdrawal-notified" and _notified_on(learner, ref) == on:
        return
    elif kind == "withdrawn":
        once(learner, "withdrawn", ref, on, "occurred_on", "the withdrawal",
             lambda: learner.withdraw(ref, on, values["reason"], None, ctx))
    else:
        method = {
            "assessment-started": learner.start_assessment,
            "withdrawal-notified": learner.notify_withdrawal,
            "iqa-signed-off": learner.sign_off_iqa,
            "claim-submitted": learner.submit_claim,
            "certificate-received": learner.receive_certificate,
            "certificate-issued": learner.issue_certificate,
            "certificate-collected": learner.collect_certificate,
            "registration-checked": learner.check_registration,
            "units-completed": learner.complete_units,
            "eqa-sampling-required": learner.require_eqa_sampling,
            "eqa-sampled": learner.record_eqa_sampled,
            "learning-completed": learner.complete_learning,
            "achieved": learner.record_achievement,
        }[kind]
        once(learner, kind, ref, on, "occurred_on", kind.replace("-", " "),
             lambda: method(ref, on, ctx))


def _notified_on(learner: Learner, ref: str) -> date | None:
    withdrawn = learner.latest("withdrawn", ref)
    return None if withdrawn is None else withdrawn.values["notified_on"]


def _decision(learner: Learner, ref: str, on: date, outcome: str,
              record: Callable[[], None]) -> None:
    """Confirm or reject the pending registration, unless this decision is already recorded
    on that date (even if a resubmission has followed it: a file saying "rejected, then
    submitted again" the same day imports again writing nothing)."""
    with column("enrolment"):
        learner.enrolment(ref)
    state, fact = learner.registration(ref)
    if state == outcome and fact is not None and fact.occurred_on == on:
        return
    kind = f"registration-{outcome}"
    if any(f.kind == kind and f.enrolment == ref and f.occurred_on == on
           for f in learner.live_facts()):
        return
    with column("occurred_on"):
        record()
