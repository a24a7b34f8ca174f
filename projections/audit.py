"""The audit trail: every event of a learner in recorded order, with what it changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

COMMON_ATTRIBUTES = frozenset({
    "originator_id", "originator_version", "timestamp", "originator_topic", "occurred_on",
    "actor", "source", "note", "enrolment",
})
AUDIT_COLUMNS = (
    "position", "recorded", "occurred_on", "event", "enrolment", "changes", "actor", "login",
    "source", "note", "status",
)


def event_name(event: Any) -> str:
    """The event's class name without its aggregate, e.g. `Withdrawn`."""
    return type(event).__qualname__.rsplit(".", 1)[-1]


def event_changes(event: Any) -> dict[str, Any]:
    """The event-specific attributes: what the event recorded."""
    return {
        key: value for key, value in vars(event).items()
        if key not in COMMON_ATTRIBUTES and not key.startswith("_")
    }


def audit_rows(
    events: Iterable[tuple[int, Any]], as_at: datetime | None = None,
    stamps: Mapping[int, tuple[str | None, datetime | None]] | None = None,
) -> list[dict[str, Any]]:
    """Audit rows for one learner's (position, event) pairs recorded up to `as_at`.

    `stamps`: each position's (login, time) as the database stamped it: `login` is who
    recorded the event, beside the `actor` name they gave; `stamped_at` is when the chain
    took it. Positions without one show None."""
    stamps = stamps or {}
    known = [(p, e) for p, e in events if as_at is None or e.timestamp <= as_at]
    position_of = {e.originator_version: p for p, e in known}
    retracted_by = {
        e.retracted_version: p for p, e in known if event_name(e) == "Retracted"
    }
    return [audit_row(position, event, retracted_by.get(event.originator_version),
                      position_of.get(getattr(event, "retracted_version", None)),
                      stamps.get(position))
            for position, event in known]


def audit_row(position: int, event: Any, retracted_by: int | None = None,
              retracts: int | None = None,
              stamp: tuple[str | None, datetime | None] | None = None) -> dict[str, Any]:
    """One event's audit row: `retracted_by`, the position of a retraction of it;
    `retracts`, for a retraction, the position of the event it retracts; `stamp`, the
    database's (login, time) for its position."""
    changes = event_changes(event)
    status = "recorded" if retracted_by is None else f"retracted by {retracted_by}"
    if event_name(event) == "Retracted":
        changes["retracts"] = retracts
        status = f"retracts {retracts}"
    login, stamped_at = stamp or (None, None)
    return {
        "position": position,
        "version": event.originator_version,
        "recorded": event.timestamp,
        "occurred_on": getattr(event, "occurred_on", None),
        "event": event_name(event),
        "enrolment": getattr(event, "enrolment", None),
        "changes": changes,
        "actor": getattr(event, "actor", None),
        "login": login,
        "stamped_at": stamped_at,
        "source": getattr(event, "source", None),
        "note": getattr(event, "note", None),
        "status": status,
    }
