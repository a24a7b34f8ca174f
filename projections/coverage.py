"""Rule-set coverage: for each awarding body in use, how many enrolments its rules judge."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from projections.late_registrations import unjudged_reason
from projections.policy import PolicyLike
from projections.timeline import LearnerView, Timeline

COVERAGE_COLUMNS = ("awarding_body", "enrolments", "judged", "not_judged", "coverage",
                    "reasons")


def coverage(timelines: Iterable[Timeline], policy: PolicyLike,
             rule_set_bodies: Iterable[str]) -> list[dict[str, Any]]:
    """One row per awarding body in use or with a rule set: its enrolments, how many a
    late-registration rule judges, and why the others are not judged."""
    rows: dict[str, dict[str, Any]] = {
        body: {"awarding_body": body, "enrolments": 0, "judged": 0, "not_judged": 0,
               "reasons": {}} for body in rule_set_bodies}
    for timeline in timelines:
        for enrolled in LearnerView(timeline).enrolments():
            body = enrolled["values"]["awarding_body"]
            start = date.fromisoformat(enrolled["values"]["programme_start"])
            row = rows.setdefault(body, {"awarding_body": body, "enrolments": 0, "judged": 0,
                                         "not_judged": 0, "reasons": {}})
            row["enrolments"] += 1
            reason = unjudged_reason(policy, body, start)
            if reason is None:
                row["judged"] += 1
            else:
                row["not_judged"] += 1
                row["reasons"][reason] = row["reasons"].get(reason, 0) + 1
    for row in rows.values():
        total = row["enrolments"]
        row["coverage"] = f"{100 * row['judged'] // total}%" if total else "not in use"
    return sorted(rows.values(), key=lambda row: (-row["enrolments"], row["awarding_body"]))
