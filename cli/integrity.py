"""Tamper-evidence commands: verify the hash chain, print the digest, export an EQA bundle."""

from __future__ import annotations

from pathlib import Path

import click

from aggregates.errors import InvalidValue
from aggregates.values import parse_centre, parse_date
from cli.context import settings, user_errors
from cli.output import emit_json, format_option, plural
from cli.progress_bar import TerminalProgress
from ledger.integrity.bundle import export_bundle, verify_bundle
from ledger.integrity.chain import Digest
from ledger.integrity.verify import LedgerTampered, current_digest, verify_ledger


@click.command("verify")
@click.option("--digest", "digest_text", metavar="POSITION:HASH",
              help="Also prove the ledger (or the bundle's chain) extends the one this digest "
                   "was taken from, e.g. the digest printed on a kept report.")
@click.option("--bundle", "bundle", type=click.Path(dir_okay=False, path_type=Path),
              help="Verify an exported bundle offline instead (no database is opened).")
@user_errors
def verify(digest_text: str | None, bundle: Path | None) -> None:
    """Re-read every event and check the hash chain; exit 1 naming the first bad event."""
    digest = Digest.parse(digest_text) if digest_text else None
    if bundle is not None:
        summary = verify_bundle(bundle, digest)
        click.echo(f"Bundle verified: {plural(summary.events, 'event')} of centre "
                   f"{summary.centre} in {plural(summary.entries, 'chain entry', 'chain entries')}"
                   f", {plural(len(summary.rule_sets), 'rule set')}.")
        click.echo(f"Digest: {summary.digest}")
        if digest is not None:
            click.echo(f"Extends digest {digest}: nothing up to position {digest.position} "
                       "was changed.")
        return
    with TerminalProgress(unit="events") as progress:
        result = verify_ledger(settings().app(), digest, progress=progress)
    if result.problem is not None:
        raise LedgerTampered(result.problem)
    click.echo(f"Verified {plural(result.events, 'event')}.")
    click.echo(f"Digest: {result.head}")
    if result.extends is not None:
        click.echo(f"Extends digest {result.extends}: nothing up to position "
                   f"{result.extends.position} was changed.")


@click.command("digest")
@format_option("text", "json")
@user_errors
def digest(fmt: str) -> None:
    """Print the head digest (POSITION:HASH) to keep for a later `ledger verify --digest`."""
    head = current_digest(settings().app())
    if fmt == "json":
        emit_json(head)
    else:
        click.echo(head["digest"])


@click.command("export")
@click.option("--centre", required=True, help="Centre number whose learners' events to export.")
@click.option("--from", "start", help="First recorded date to include (ISO, UTC).")
@click.option("--to", "end", help="Last recorded date to include (ISO, UTC).")
@click.option("--policies", envvar="LEDGER_POLICIES", default=None,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Extra rule-set directory the reports use (default: LEDGER_POLICIES).")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@user_errors
def export(centre: str, start: str | None, end: str | None, policies: Path | None,
           out: Path) -> None:
    """Write a bundle for an EQA: a centre's events with the hash chain and the rule sets."""
    first = parse_date(start, "from") if start else None
    last = parse_date(end, "to") if end else None
    if first is not None and last is not None and last < first:
        raise InvalidValue("to", f"{last.isoformat()} is before --from {first.isoformat()}")
    with TerminalProgress(unit="events") as progress:
        summary = export_bundle(settings().app(), parse_centre(centre), out, first, last,
                                extra_policies=policies, progress=progress)
    click.echo(f"Exported {plural(summary.events, 'event')} of centre {summary.centre} to "
               f"{out} ({plural(summary.entries, 'chain entry', 'chain entries')}, "
               f"{plural(len(summary.rule_sets), 'rule set')}).")
    click.echo(f"Digest: {summary.digest}")


COMMANDS = (verify, digest, export)
