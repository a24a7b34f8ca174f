"""Uncollected certificates: those a centre holds, and those held past the rule's months."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from projections.late_registrations import selected
from projections.policy import PolicyLike, add_months
from projections.timeline import LearnerView, Timeline, as_on, day

CERTIFICATE_COLUMNS = (
    "learner", "enrolment", "awarding_body", "received", "issued", "held_until", "status",
    "rule",
)
CERTIFICATE_STATUSES = ("due for contact", "held")


@dataclass(frozen=True)
class HeldCertificate:
    """A certificate received from the awarding body and not yet collected by the learner."""

    learner: str
    enrolment: str
    awarding_body: str
    received: date
    issued: date | None
    held_until: date
    status: str
    rule: str
    centre: str
    evidence: list[int]

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def uncollected_certificates(
    timelines: Iterable[Timeline], policy: PolicyLike, on: date,
    awarding_body: str | None = None, centre: str | None = None,
) -> list[HeldCertificate]:
    """Every certificate received by `on` and not collected by then, for enrolments whose
    rule set has a `certificate-uncollected` rule: held until the rule's months after it
    was received, then due for the centre to contact the learner (AIM 5.4)."""
    rows = []
    for timeline in timelines:
        view = LearnerView(as_on(timeline, on))
        for enrolled in view.enrolments():
            if not selected(view, enrolled, awarding_body, centre):
                continue
            ref, body = enrolled["enrolment"], enrolled["values"]["awarding_body"]
            received = view.last("CertificateReceived", ref)
            if received is None or view.last("CertificateCollected", ref) is not None:
                continue
            rules = policy.rules_in_force(body, day(enrolled, "programme_start"))
            if rules is None or "certificate-uncollected" not in rules:
                continue
            rule = rules["certificate-uncollected"]
            held_until = add_months(day(received), rule.params["months"])
            issued = view.last("CertificateIssued", ref)
            rows.append(HeldCertificate(
                learner=view.reference, enrolment=ref, awarding_body=body,
                received=day(received), issued=day(issued) if issued else None,
                held_until=held_until,
                status="due for contact" if on > held_until else "held",
                rule=f"{rule.reference}: held {rule.params['months']} months",
                centre=view.centre,
                evidence=[received["position"]] + ([issued["position"]] if issued else []),
            ))
    rows.sort(key=lambda r: (r.centre, r.awarding_body, r.held_until, r.learner, r.enrolment))
    return rows
