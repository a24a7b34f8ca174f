"""History commands: the audit trail of one learner."""

from __future__ import annotations

import click

from aggregates.values import parse_timestamp
from cli.context import settings, user_errors
from cli.output import emit_rows, format_option
from ledger.integrity.stamps import stamps_of
from ledger.privacy.keys import ENCRYPTED
from ledger.privacy.redaction import redact
from ledger.privacy.sealing import holds_encrypted, why_encrypted
from projections.audit import AUDIT_COLUMNS, audit_rows


@click.command("audit")
@click.argument("reference")
@click.option("--centre", help="Centre number (when the reference exists at several centres).")
@click.option("--as-at", "as_at", default=None,
              help="Show only what was recorded by this moment (ISO; UTC unless zoned).")
@click.option("--redact", "masked", is_flag=True,
              help="Mask dates of birth, postcodes and emails for sharing.")
@format_option("table", "json")
@user_errors
def audit(
    reference: str, centre: str | None, as_at: str | None, masked: bool, fmt: str
) -> None:
    """Every event of learner REFERENCE in recorded order, with retractions."""
    moment = parse_timestamp(as_at) if as_at else None
    app = settings().app()
    centre, events = app.learner_history(reference, centre)
    rows = audit_rows(events, moment, stamps_of(app, (position for position, _ in events)))
    if holds_encrypted(rows):
        click.echo(f"Note: personal data reads {ENCRYPTED}: {why_encrypted(app.keys)}",
                   err=True)
    if masked:
        rows = redact(rows)
    document = {"learner": reference, "centre": centre,
                "as_at": moment, "events": rows}
    if fmt == "json":
        from cli.output import emit_json
        emit_json(document)
    else:
        emit_rows(rows, AUDIT_COLUMNS, fmt, title=f"Audit of {reference} at {centre}")
