"""History commands: the audit trail of one learner."""

from __future__ import annotations

import click

from aggregates.values import parse_timestamp
from cli.audit_text import audit_text, centre_zone
from cli.context import settings, user_errors
from cli.output import emit_json, format_option, terminal_width
from ledger.privacy.redaction import HELP as REDACT_HELP
from ledger.privacy.redaction import redact


@click.command("audit")
@click.argument("reference")
@click.option("--centre", help="Centre number (when the reference exists at several centres).")
@click.option("--as-at", "as_at", default=None,
              help="Show only what was recorded by this moment (ISO; UTC unless zoned).")
@click.option("--redact", "masked", is_flag=True, help=REDACT_HELP)
@click.option("--timezone", "zone_name", envvar="LEDGER_TIMEZONE", default=None,
              help="Show recorded times in this zone (default: LEDGER_TIMEZONE or "
                   "Europe/London); JSON keeps UTC.")
@format_option("table", "json")
@user_errors
def audit(
    reference: str, centre: str | None, as_at: str | None, masked: bool,
    zone_name: str | None, fmt: str,
) -> None:
    """Every event of learner REFERENCE in recorded order, with retractions.

    One event a line (position, recorded time, event, enrolment), what it recorded on the
    lines below it.
    """
    from ledger.privacy.key_reading import ENCRYPTED
    from ledger.privacy.sealing import holds_encrypted, why_encrypted
    from projections.audit import audit_rows

    zone = centre_zone(zone_name)
    moment = parse_timestamp(as_at) if as_at else None
    ledger = settings().reader()
    centre, events = ledger.learner_history(reference, centre)
    rows = audit_rows(events, moment, ledger.stamps(position for position, _ in events))
    if holds_encrypted(rows):
        click.echo(f"Note: personal data reads {ENCRYPTED}: {why_encrypted(ledger.keys)}",
                   err=True)
    if masked:
        rows = redact(rows)
    document = {"learner": reference, "centre": centre,
                "as_at": moment, "events": rows}
    if fmt == "json":
        emit_json(document)
    else:
        for line in audit_text(rows, f"Audit of {reference} at centre {centre}", zone,
                               terminal_width()):
            click.echo(line)
