"""`ledger lrs request` and `ledger lrs results`: ULNs from the LRS by batch file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from aggregates.values import parse_centre, parse_date
from cli.context import settings, user_errors
from cli.importing import run_import, summary_document
from cli.output import emit_json, format_option
from ledger.app import LedgerApp
from ledger.bulk.progress import Progress
from ledger.imports import ImportOptions, ImportSummary
from ledger.imports.lrs import LARGEST_BATCH, SMALLEST_BATCH
from ledger.imports.lrs_request import ResultsSummary, import_results, write_requests


@click.group("lrs")
def lrs_group() -> None:
    """LRS batch files: ask for ULNs, and record the answers."""


@lrs_group.command("request")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write the request files in.")
@click.option("--centre", default=None, help="Only this centre number.")
@click.option("--ukprn", default=None,
              help="UKPRN to name in the files (default: the centre number).")
@format_option("text", "json")
@user_errors
def request_command(out: Path, centre: str | None, ukprn: str | None, fmt: str) -> None:
    """Write LRS batch request files for learners with no ULN, an unverified ULN, or LRS
    details changed since their last verification.

    Each file holds 50 to 5,000 learners, as the LRS requires; a centre with fewer is listed
    for the portal's single look-up instead. A file already in the folder with the same
    learners is not written again.
    """
    app = settings().app()
    result = write_requests(app, out, parse_centre(centre) if centre else None,
                            parse_centre(ukprn) if ukprn else None, datetime.now())
    if fmt == "json":
        emit_json({
            "written": [str(p) for p in result.written],
            "unchanged": [str(p) for p in result.unchanged],
            "single_lookup": {c: [{"learner": learner.reference, "reason": learner.reason}
                                  for learner in listed]
                              for c, listed in result.single.items()},
        })
        return
    for path in result.written:
        click.echo(f"Wrote {path}")
    for path in result.unchanged:
        click.echo(f"Unchanged {path} (the same learners; not written again)")
    for at_centre, listed in result.single.items():
        click.echo(f"Centre {at_centre}: {len(listed)} learner(s), fewer than {SMALLEST_BATCH}: "
                   "look them up one by one on the LRS portal:")
        for learner in listed:
            click.echo(f"  {learner.reference}: {learner.reason}")
    if not (result.written or result.unchanged or result.single):
        click.echo("No learner needs a ULN look-up.")
    else:
        click.echo(f"(files hold {SMALLEST_BATCH} to {LARGEST_BATCH:,} learners each)")


@lrs_group.command("results")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--centre", default=None, help="Centre number (default: the file's UKPRN).")
@click.option("--on", "on", default=None,
              help="Date of the LRS's answer (default: the date in the file's name).")
@click.option("--dry-run", is_flag=True, help="Check every row against the ledger; write nothing.")
@click.option("--skip-invalid", is_flag=True,
              help="Record the valid rows and list the invalid ones (default: refuse the file).")
@format_option("text", "json")
@user_errors
def results_command(file: Path, centre: str | None, on: str | None, dry_run: bool,
                    skip_invalid: bool, fmt: str) -> None:
    """Record an LRS batch output file: each ULN found or created, with a successful match;
    each exception is listed for manual resolution. Importing it again records nothing new.
    """
    options = ImportOptions(actor=settings().actor, dry_run=dry_run, skip_invalid=skip_invalid)
    done: list[ResultsSummary] = []

    def run(app: LedgerApp, progress: Progress) -> ImportSummary:
        done.append(import_results(app, file, parse_centre(centre) if centre else None,
                                   parse_date(on, "on") if on else None, options, progress))
        return done[0].summary

    summary = run_import(file, options, run)
    results = done[0]
    found = results.exceptions
    if fmt == "json":
        emit_json({**summary_document(summary), "learners": results.learners,
                   "answered": results.answered, "exceptions": [
                       {"line": e.line, "learner": e.reference, "code": e.code,
                        "meaning": e.meaning} for e in found]})
        return
    verb = "Checked" if dry_run else "Imported"
    written = "events to write" if dry_run else "events written"
    click.echo(f"{verb} {summary.file} (LRS batch output)")
    click.echo(f"  learners:              {results.learners}")
    click.echo(f"  ULNs found or created: {results.answered}")
    click.echo(f"  {written + ':':<22} {summary.events} (a ULN and an LRS match each; "
               "none for what is already recorded)")
    click.echo(f"  exceptions:            {len(found)}"
               + (" (resolve each on the LRS portal)" if found else ""))
    if dry_run:
        click.echo("Dry run: nothing was written.")
    for exception in found:
        click.echo(f"    line {exception.line}, {exception.reference}: {exception.code} "
                   f"{exception.meaning}")
