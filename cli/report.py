"""Report commands: late registrations, maladministration, audit listings, rebuild and replay."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from aggregates.errors import InvalidValue
from aggregates.values import parse_awarding_body, parse_centre, parse_date, parse_timestamp
from cli.context import settings, user_errors
from cli.output import emit_json, emit_rows, format_option, output_option
from cli.progress_bar import TerminalProgress
from ledger.app import MAX_POSITION
from ledger.integrity.chain import EMPTY, Digest
from ledger.integrity.verify import digest_at
from ledger.privacy.redaction import redact
from ledger.reporting.rebuild import rebuild
from ledger.reporting.reports import current_timelines, open_view, replay, timelines_as_at
from ledger.rules.rulesets import SEVERITIES, RuleBook, describe, load_rulebook
from ledger.web.html_report import (
    audit_html,
    late_registrations_html,
    maladministration_html,
    write_report,
)
from projections.audit import AUDIT_COLUMNS, audit_rows, event_name
from projections.late_registrations import LATE_COLUMNS, STATUSES, late_registrations
from projections.maladministration import FINDING_COLUMNS, maladministration
from projections.timeline import Timeline, summarise

F = TypeVar("F", bound=Callable[..., Any])
TABLE_FINDING_COLUMNS = ("severity", "learner", "enrolment", "rule", "cited", "evidence",
                         "message")


def report_options(function: F) -> F:
    """The options shared by the reports."""
    options = [
        click.option("--as-at", "as_at", default=None,
                     help="Use only events recorded by this moment (ISO date or date-time; "
                          "UTC unless zoned)."),
        click.option("--on", "on", default=None,
                     help="Judge deadlines on this date (default: today)."),
        click.option("--awarding-body", "awarding_body", default=None,
                     help="Only this awarding body (e.g. AIM)."),
        click.option("--centre", default=None, help="Only this centre number."),
        click.option("--policies", envvar="LEDGER_POLICIES", default=None,
                     help="Extra rule-set directory (default: LEDGER_POLICIES)."),
        click.option("--nation", envvar="LEDGER_NATION", default=None,
                     help="Nation for bank holidays of centres not in centres.toml: England, "
                          "Wales, Scotland or Northern Ireland (default: LEDGER_NATION or "
                          "England)."),
        click.option("--redact", is_flag=True,
                     help="Mask dates of birth, postcodes and emails, for sharing."),
        format_option("table", "json", "csv", "html"),
        output_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


class Selection:
    """Parsed report options and the timelines they select."""

    def __init__(self, as_at: str | None, on: str | None, awarding_body: str | None,
                 centre: str | None, policies: str | None, nation: str | None,
                 redact: bool = False) -> None:
        self.redact = redact
        self.digest: Digest = EMPTY
        self.moment: datetime | None = parse_timestamp(as_at) if as_at else None
        self.on: date = parse_date(on, "on") if on else date.today()
        self.body = parse_awarding_body(awarding_body) if awarding_body else None
        self.centre = parse_centre(centre) if centre else None
        self.book: RuleBook = load_rulebook(policies, nation)

    def timelines(self) -> list[Timeline]:
        """The timelines the report reads; notes the digest of the ledger behind them."""
        app = settings().app()
        if self.moment is not None:
            found = timelines_as_at(app, self.moment, self.centre)
            position = max((t["position"] for t in found), default=0)
        else:
            found, position = current_timelines(app, self.centre)
        self.digest = digest_at(app, position)
        return found

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows, redacted when --redact was given."""
        return [redact(row) for row in rows] if self.redact else rows

    def header(self, name: str) -> dict[str, Any]:
        return {"report": name, "on": self.on, "as_at": self.moment,
                "awarding_body": self.body, "centre": self.centre,
                "ledger_digest": str(self.digest), "redacted": self.redact}

    def print_digest(self, fmt: str) -> None:
        """Tables and CSV name the ledger digest on a line of their own (CSV: on stderr)."""
        if fmt != "json":
            click.echo(f"Ledger digest: {self.digest} (check later with `ledger verify "
                       f"--digest {self.digest}`)", err=fmt in ("csv", "html"))

    def title(self, name: str) -> str:
        known = f", as recorded by {self.moment.isoformat()}" if self.moment else ""
        return f"{name} judged on {self.on.isoformat()}{known}"


@click.group("report")
def report_group() -> None:
    """Compliance reports computed from the ledger's events."""


@report_group.command("late-registrations")
@report_options
@click.option("--check", is_flag=True, help="Exit with status 1 if any row is late or overdue.")
@user_errors
def late_registrations_report(fmt: str, check: bool, output: Path | None,
                              **options: Any) -> None:
    """One row per enrolment: deadline, submission and status (late, overdue, at-risk, on-time)."""
    selection = Selection(**options)
    rows, unjudged = late_registrations(selection.timelines(), selection.book, selection.on,
                                        selection.body, selection.centre)
    plain_rows = selection.rows([row.as_row() for row in rows])
    unjudged_rows = [vars(u) for u in unjudged]
    document = {**selection.header("late-registrations"), "unjudged": unjudged_rows}
    if fmt == "html":
        write_report(output, late_registrations_html(plain_rows, LATE_COLUMNS, document,
                                                     selection.book))
    else:
        emit_rows(plain_rows, LATE_COLUMNS, fmt, selection.title("Late registrations"),
                  document)
    if fmt == "table":
        counts = Counter(row.status for row in rows)
        detail = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        click.echo(f"{len(rows)} enrolments" + (f": {detail}" if detail else ""))
    selection.print_digest(fmt)
    _note_unjudged(unjudged_rows)
    if check and any(row.status in ("late", "overdue") for row in rows):
        sys.exit(1)


@report_group.command("maladministration")
@report_options
@click.option("--check", is_flag=True, help="Exit with status 1 if there is any finding.")
@user_errors
def maladministration_report(fmt: str, check: bool, output: Path | None,
                            **options: Any) -> None:
    """Findings: each names its rule (AO, version, clause) and the events that prove it."""
    selection = Selection(**options)
    found = maladministration(selection.timelines(), selection.book, selection.on,
                              selection.body, selection.centre)
    rows = selection.rows([f.as_row() for f in found])
    title = selection.title("Maladministration findings")
    if fmt == "table":
        for row in rows:
            row["cited"] = f"{row['awarding_body']} {row['rule_version']} clause {row['clause']}"
        emit_rows(rows, TABLE_FINDING_COLUMNS, fmt, title)
        counts = Counter(f.severity for f in found)
        detail = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s])
        click.echo(f"{len(found)} findings" + (f": {detail}" if detail else ""))
    elif fmt == "html":
        write_report(output, maladministration_html(rows, selection.header("maladministration")))
    else:
        emit_rows(rows, FINDING_COLUMNS, fmt, title, selection.header("maladministration"))
    selection.print_digest(fmt)
    if check and found:
        sys.exit(1)


@report_group.command("audit")
@click.option("--centre", required=True, help="Centre number.")
@click.option("--from", "from_", default=None, help="First recorded date (ISO).")
@click.option("--to", default=None, help="Last recorded date (ISO).")
@click.option("--as-at", "as_at", default=None,
              help="Use only events recorded by this moment (ISO; UTC unless zoned).")
@click.option("--redact", "masked", is_flag=True,
              help="Mask dates of birth, postcodes and emails, for sharing.")
@format_option("table", "json", "csv", "html")
@output_option
@user_errors
def audit_listing(centre: str, from_: str | None, to: str | None, as_at: str | None,
                  masked: bool, fmt: str, output: Path | None) -> None:
    """Every event recorded for a centre's learners, by recorded date, with retractions."""
    centre = parse_centre(centre)
    first = parse_date(from_, "from") if from_ else None
    last = parse_date(to, "to") if to else None
    moment = parse_timestamp(as_at) if as_at else None
    app = settings().app()
    per_learner: dict[str, list[tuple[int, Any]]] = {}
    references: dict[str, str] = {}
    for position, event, timeline in replay(app, until=moment):
        if timeline["centre"] != centre:
            continue
        key = timeline["learner_id"]
        references[key] = timeline["reference"]
        per_learner.setdefault(key, []).append((position, event))
    rows = []
    for key, events in per_learner.items():
        for row in audit_rows(events, moment):
            recorded = row["recorded"].date()
            if (first and recorded < first) or (last and recorded > last):
                continue
            rows.append({"learner": references[key], **row})
    rows.sort(key=lambda row: row["position"])
    rows = redact(rows) if masked else rows
    columns = ("learner", *AUDIT_COLUMNS)
    document = {"centre": centre, "from": first, "to": last, "as_at": moment}
    if fmt == "html":
        digest = digest_at(app, max((row["position"] for row in rows), default=0))
        write_report(output, audit_html(rows, columns, {
            **document, "ledger_digest": str(digest), "redacted": masked,
            "period": f"{first or 'the start'} to {last or 'now'}"}))
        return
    emit_rows(rows, columns, fmt, f"Audit of centre {centre}", document)


@report_group.command("rules")
@click.option("--policies", envvar="LEDGER_POLICIES", default=None,
              help="Extra rule-set directory (default: LEDGER_POLICIES).")
@format_option("table", "json")
@user_errors
def rules_listing(policies: str | None, fmt: str) -> None:
    """The rule sets loaded: each AO's versions, effective dates and rules."""
    rows = list(describe(load_rulebook(policies)))
    emit_rows(rows, ("awarding_body", "version", "effective_from", "rules", "file"), fmt,
              "Rule sets")


@click.command("rebuild")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes folding the events (default: one per core on a ledger of "
                   "50,000 events or more, else one).")
@user_errors
def rebuild_command(workers: int | None) -> None:
    """Recompute the materialised report tables from the first event."""
    app = settings().app()
    with TerminalProgress(unit="events") as progress:
        count = rebuild(app, open_view(app), progress, workers)
    click.echo(f"Rebuilt the report tables from {count} learner events")


@click.command("replay")
@click.option("--learner", default=None, help="Only this learner reference.")
@click.option("--centre", default=None,
              help="Centre number (when the learner reference exists at several centres).")
@click.option("--until", default=None,
              help="Stop at this recorded moment (ISO) or event position (a number).")
@format_option("table", "json")
@user_errors
def replay_command(learner: str | None, centre: str | None, until: str | None,
                   fmt: str) -> None:
    """Events in recorded order with the learner's state after each, for investigations."""
    limit: datetime | int | None = None
    if until is not None:
        limit = int(until) if until.strip().isdigit() else parse_timestamp(until, "until")
        if isinstance(limit, int) and limit > MAX_POSITION:
            raise InvalidValue("until", f"{until} is beyond the last possible position")
    app = settings().app()
    learner_id = app.find_learner(learner, centre).id if learner else None
    rows = []
    for position, event, timeline in replay(app, learner_id, limit):
        state = summarise(timeline)
        rows.append({
            "position": position, "recorded": event.timestamp,
            "learner": timeline["reference"], "centre": timeline["centre"],
            "event": event_name(event), "enrolment": getattr(event, "enrolment", None),
            "occurred_on": getattr(event, "occurred_on", None),
            "retracts": getattr(event, "retracted_version", None),
            "state": state, "state_text": _state_text(state),
        })
    if fmt == "json":
        emit_json({"learner": learner, "until": until,
                   "steps": [{k: v for k, v in r.items() if k != "state_text"} for r in rows]})
    else:
        columns = ("position", "recorded", "learner", "event", "enrolment", "occurred_on",
                   "state_text")
        emit_rows(rows, columns, fmt, "Replay")


def _state_text(state: dict[str, Any]) -> str:
    parts = [f"ULN {state['uln_status']}"]
    for ref, enrolment in state["enrolments"].items():
        withdrawn = ", withdrawn" if enrolment["withdrawn"] else ""
        parts.append(f"{ref} {enrolment['awarding_body']}: registration "
                     f"{enrolment['registration']}{withdrawn}, last {enrolment['latest']}")
    return "; ".join(parts)


def _note_unjudged(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        click.echo(
            f"Note: {row['learner']} {row['enrolment']} ({row['awarding_body']}, start "
            f"{row['programme_start'].isoformat()}) has no rule set in force; not judged",
            err=True,
        )

