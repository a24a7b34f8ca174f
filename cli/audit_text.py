"""The audit as text: one line per event, its changes on indented lines below, local times."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregates.errors import ConfigurationError
from cli.output import as_text, detail_line, folded, plural, terminal_text

DEFAULT_TIMEZONE = "Europe/London"
CHANGE_INDENT = 8
POSITIONS_NOTE = (
    "Positions number every event in the ledger, so they skip: the numbers between are other "
    "learners' events and the learner-reference index (which notes the centres that use a "
    "reference); on PostgreSQL a transaction that was rolled back also leaves a gap. Gaps are "
    "normal: `ledger verify` checks that no event is missing from the chain."
)


def centre_zone(name: str | None = None) -> ZoneInfo:
    """The zone recorded times are shown in: the one given, LEDGER_TIMEZONE, or
    Europe/London."""
    chosen = name or os.environ.get("LEDGER_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"time zone {chosen[:60]!r} is not known (e.g. Europe/London)") from None


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """A recorded time in the zone, to the second, with its offset: 2026-07-01 09:30:00 +01:00."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


# a retraction's changes shown in its headline (`[retracts 8]`) or only internal (the
# learner's own version number of the event, beside the position the audit names it by):
# left out of the text, kept in the JSON
HEADLINE_ONLY = frozenset({"retracts", "retracted_version"})
# the LRS's gender codes (DOMAIN.md), named beside the code an assessor would otherwise
# have to look up; the JSON keeps the code alone
GENDER_NAMES = {0: "not known", 1: "male", 2: "female", 9: "not specified"}


def change_text(key: str, value: Any) -> str:
    """A change's value as an officer reads it: yes or no for a flag, a gender code with its
    name (`key` "gender": the detail, or an amendment's old or new value of it), the rest as
    a table cell shows it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "gender" and value in GENDER_NAMES:
        return f"{value} ({GENDER_NAMES[value]})"
    return as_text(value)


def change_lines(changes: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, text) for each change worth showing: nested details one by one, empty values
    left out, data-quality warnings last."""
    warnings = changes.get("warnings") or []
    amended_gender = changes.get("field") == "gender"
    for key, value in changes.items():
        if value in (None, "", [], {}) or key == "warnings" or key in HEADLINE_ONLY:
            continue
        if isinstance(value, dict):
            yield from change_lines(value)
        else:
            kind = "gender" if amended_gender and key in ("old", "new") else key
            yield key.replace("_", " "), change_text(kind, value)
    for warning in warnings if isinstance(warnings, list) else []:
        yield "warning", f"{warning.get('field', '')}: {warning.get('message', '')}"


def headline(row: dict[str, Any], zone: ZoneInfo, digits: int) -> str:
    event = row["event"] + (f" {row['enrolment']}" if row.get("enrolment") else "")
    status = "" if row["status"] == "recorded" else f"  [{row['status']}]"
    learner = f"{row['learner']}  " if row.get("learner") else ""
    return (f"{row['position']:>{digits}}  {local_time(row['recorded'], zone)}  "
            f"{learner}{event}{status}")


def audit_text(rows: Sequence[dict[str, Any]], title: str, zone: ZoneInfo,
               width: int) -> list[str]:
    """The audit's lines: a title, each event's line then its changes, and why positions
    skip when they do."""
    lines = [terminal_text(f"{title}: {plural(len(rows), 'event')}, recorded times in "
                           f"{zone.key}")]
    digits = max((len(str(row["position"])) for row in rows), default=1)
    for row in rows:
        lines.extend(event_lines(row, zone, digits, width))
    positions = [row["position"] for row in rows]
    if positions and positions[-1] - positions[0] + 1 != len(positions):
        lines.append("")
        lines.append(folded(POSITIONS_NOTE, width))
    return lines


def event_lines(row: dict[str, Any], zone: ZoneInfo, digits: int, width: int) -> list[str]:
    """One event's lines: its headline, then who recorded it, its source and its changes,
    indented below."""
    lines = [terminal_text(headline(row, zone, digits))]
    who = f"happened {as_text(row['occurred_on'])}, recorded by {row['actor']}"
    if row.get("login"):  # the login the database stamped, beside the name given
        who += f" (login {row['login']})"
    lines.append(folded(terminal_text(who), width, CHANGE_INDENT))
    lines.append(detail_line("source", terminal_text(row["source"] or ""), width,
                             CHANGE_INDENT))
    for label, text in change_lines(row["changes"]):
        lines.append(detail_line(label, terminal_text(text), width, CHANGE_INDENT))
    if row.get("note"):
        lines.append(detail_line("note", terminal_text(row["note"]), width, CHANGE_INDENT))
    return lines


def streamed_audit_text(rows: Iterable[dict[str, Any]], title: str, zone: ZoneInfo,
                        width: int, digits: int) -> Iterator[str]:
    """A centre's audit lines as its rows come (`digits`: the widest position's): the title,
    each event's lines with its learner's reference, then how many events there were."""
    yield terminal_text(f"{title}, recorded times in {zone.key}")
    count = 0
    for row in rows:
        yield from event_lines(row, zone, digits, width)
        count += 1
    yield ""
    yield folded(f"{plural(count, 'event')}. {POSITIONS_NOTE}" if count else "No events.",
                 width)
