"""Bulk commands: `ledger import FILE.csv` and `ledger demo` (a synthetic centre, imported)."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from eventsourcing.persistence import OperationalError
from sqlalchemy.exc import SQLAlchemyError

from aggregates.errors import LedgerError, shown
from cli.context import settings, user_errors
from cli.output import emit_json, folded, format_option, terminal_text, terminal_width
from cli.progress_bar import TerminalProgress
from ledger.imports import ImportOptions, ImportRefused, ImportSummary, import_csv
from ledger.imports.ilr_import import import_ilr, is_ilr
from ledger.imports.runner import DEFAULT_BATCH_SIZE
from ledger.reporting.rebuild import bring_reports_up_to_date
from ledger.reporting.report_rows import may_write_rows, refresh_rows
from ledger.rules.rulesets import RuleBook, default_rulebook

DEMO_DB = "sqlite:///ledger-demo.db"
DEMO_ROWS = 10  # rows of each report the demo prints, after its summary


def bring_reports_up_to_date_after_import(app: Any, book: RuleBook, progress: Any) -> None:
    """The report tables and rows brought up to date after a committed import. A failure here
    loses nothing (the import is recorded, and the next report catches up): it is said on
    stderr and the import's summary still follows."""
    try:
        bring_reports_up_to_date(app, progress)
        if may_write_rows(app):  # and the report rows, judged as a report would
            refresh_rows(app, book, progress)
    except (LedgerError, OperationalError, SQLAlchemyError) as error:
        click.echo(f"Note: the import is recorded, but the reports could not be brought up "
                   f"to date ({shown(str(error))}); the next report will do it.", err=True)


def run_import(path: Path, options: ImportOptions, fmt: str = "text",
               run: Callable[..., ImportSummary] | None = None,
               book: RuleBook | None = None) -> ImportSummary:
    """Import with a progress bar; refusals list every problem (on stderr, or as a JSON
    document on stdout), then exit 1. `run(app, progress)` imports something else than a
    CSV file (an ILR file, say). The reports are then brought up to date, their rows judged
    by `book` (default: the rule book a report reads when given no --policies)."""
    settings().may_create = True
    app = settings().app()
    try:
        with TerminalProgress() as progress:
            if run is None:
                summary = import_csv(app, path, options, progress)
            else:
                summary = run(app, progress)
            if not options.dry_run and summary.events:
                bring_reports_up_to_date_after_import(app, book or default_rulebook(), progress)
    except ImportRefused as refused:
        if fmt == "json":
            emit_json(refusal_document(path, options, refused))
        else:
            for problem in refused.problems:
                click.echo(problem_line(str(problem)), err=True)
        raise
    except KeyboardInterrupt:
        raise click.ClickException(
            "interrupted; every batch already written is complete: run the same import again "
            "to finish (nothing is recorded twice)"
        ) from None
    if not options.dry_run:
        app.checkpoint_after_import()
    if summary.ignored_columns:
        columns = "column" if len(summary.ignored_columns) == 1 else "columns"
        click.echo(f"Notice: ignored {columns} not in the {summary.layout} layout: "
                   f"{', '.join(summary.ignored_columns)}", err=True)
    for problem in summary.skipped:
        click.echo(f"Skipped {problem}", err=True)
    return summary


def problem_line(text: str) -> str:
    """`  line 3, column x: reason`, folded at spaces to a terminal's width (one line when
    stderr is not a terminal, for scripts)."""
    if not sys.stderr.isatty():
        return f"  {text}"
    return folded(terminal_text(text), terminal_width(), indent=2, hanging=2)


def refusal_document(path: Path, options: ImportOptions,
                     refused: ImportRefused) -> dict[str, Any]:
    """A refused import as JSON: why, and every problem with its line and column."""
    return {
        "file": path.name, "refused": True, "dry_run": options.dry_run,
        "message": str(refused),
        "problems": [{"line": p.line, "column": p.column, "reason": p.reason}
                     for p in refused.problems],
    }


def summary_lines(summary: ImportSummary) -> list[str]:
    """The human summary of an import."""
    verb = "Checked" if summary.dry_run else "Imported"
    written = "events to write" if summary.dry_run else "events written"
    lines = [
        f"{verb} {summary.file} ({summary.layout}"
        f"{'' if summary.layout.startswith('ILR') else ' layout'})",
        f"  rows:                  {summary.rows}",
        f"  learners:              {summary.learners_new} new, "
        f"{summary.learners_updated} updated",
        f"  {written + ':':<22} {summary.events}",
        f"  rows already recorded: {summary.rows_unchanged}",
        f"  rows skipped:          {summary.rows_skipped}",
        f"  data-quality warnings: {summary.warnings}",
    ]
    if summary.dry_run:
        lines.append("Dry run: nothing was written.")
    return lines


def summary_document(summary: ImportSummary) -> dict[str, Any]:
    return {
        "file": summary.file, "layout": summary.layout, "dry_run": summary.dry_run,
        "rows": summary.rows, "learners_new": summary.learners_new,
        "learners_updated": summary.learners_updated, "events": summary.events,
        "rows_unchanged": summary.rows_unchanged, "rows_skipped": summary.rows_skipped,
        "warnings": summary.warnings, "ignored_columns": list(summary.ignored_columns),
        "skipped": [{"line": p.line, "column": p.column, "reason": p.reason}
                    for p in summary.skipped],
    }


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row against the ledger; write nothing.")
@click.option("--skip-invalid", is_flag=True,
              help="Write the valid rows and list the invalid ones (default: refuse the file).")
@click.option("--layout", type=click.Choice(["auto", "mis-export", "events"]), default="auto",
              show_default=True,
              help="CSV layout; auto picks `events` when there is an `event` column.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Rows written per transaction.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes checking and encoding the rows, each for a share of the learners "
                   "(default: one per core for a file of about 2 MB or more, else one).")
@click.option("--aims", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="ILR only: a CSV of learning aims in the LARS download's shape "
                   "(LearnAimRef, AwardOrgCode, LearnAimRefTitle, qualification number).")
@click.option("--centre", default=None,
              help="ILR only: the centre number to record (default: the file's UKPRN).")
@click.option("--policies", envvar="LEDGER_POLICIES", default=None,
              help="Extra rule-set directory, for awarding-body suggestions "
                   "(default: LEDGER_POLICIES).")
@format_option("text", "json")
@user_errors
def import_command(file: Path, dry_run: bool, skip_invalid: bool, layout: str, batch_size: int,
                   workers: int | None, aims: Path | None, centre: str | None,
                   policies: str | None, fmt: str) -> None:
    """Import learners and events from FILE.csv (an MIS export or event rows) or FILE.xml
    (an ILR file, schema years 2024-25 to 2026-27, with --aims for its learning aims).

    Every row is checked first; if any is invalid, each problem is listed with its line and
    column (or ILR element) and nothing is written. Importing the same file again records
    nothing new.
    """
    book = default_rulebook(policies)
    known = tuple(book.awarding_bodies)
    options = ImportOptions(actor=settings().actor, dry_run=dry_run, skip_invalid=skip_invalid,
                            batch_size=batch_size, layout=layout, workers=workers,
                            known_bodies=known)
    if is_ilr(file):
        summary = run_import(file, options, fmt, lambda app, progress: import_ilr(
            app, file, aims, centre, options, progress), book)
    elif aims is not None or centre is not None:
        raise click.UsageError("--aims and --centre are for ILR files (FILE.xml)")
    else:
        summary = run_import(file, options, fmt, book=book)
    if fmt == "json":
        emit_json(summary_document(summary))
    else:
        for line in summary_lines(summary):
            click.echo(line)


@click.command("demo")
@click.option("--learners", type=click.IntRange(1, 1_000_000), default=300, show_default=True,
              help="How many learners the synthetic centre has.")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Random seed: the same seed (on the same day) gives the same centre.")
@click.option("--db", "db", default=None,
              help=f"Database URL for the demo (default: `ledger --db` if given on the command "
                   f"line, else {DEMO_DB}; never LEDGER_DB, so a real ledger is not filled "
                   "with a fictional centre by accident).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Keep the generated MIS export (and its LRS results) here.")
@user_errors
def demo(learners: int, seed: int, db: str | None, csv_path: Path | None) -> None:
    """Build a realistic synthetic centre through `ledger import`, then print the reports.

    The centre (IMI and AIM learners over the last two academic years, with late
    registrations, withdrawals, claims and data-quality problems) is written as an MIS export
    and imported exactly as `ledger import` would; running it again records nothing new.
    """
    from ledger.demo import write_demo_files

    current = settings()
    current.db = demo_database(db, current.db)
    with tempfile.TemporaryDirectory() as folder:
        target = csv_path or Path(folder) / "demo-centre.csv"
        events = target.with_name(target.stem + "-lrs-results.csv")
        write_demo_files(target, events, learners, seed)
        options = ImportOptions(actor=current.actor)
        for path in (target, events):
            summary = run_import(path, options)
            click.echo(folded(f"Imported {summary.file}: {summary.rows} rows, "
                              f"{summary.learners_new} new learners, {summary.events} events "
                              "written", terminal_width()))
    show_reports(learners)
    url = current.app().url
    click.echo(f"\nThe demo ledger is {url}.")
    click.echo("Every row of its reports, and a learner's trail, with its --db:")
    for command in ("report late-registrations --limit 0", "report maladministration --limit 0",
                    "audit L00002"):
        click.echo(f"  ledger --db {url} {command}")


def demo_database(given: str | None, group_db: str | None) -> str | None:
    """The demo's database: its own --db, `ledger --db` typed on the command line, or demo.db."""
    if given is not None:
        return given
    root = click.get_current_context().find_root()
    source = root.get_parameter_source("db")
    if source is None or source is ParameterSource.COMMANDLINE:
        return group_db
    return DEMO_DB


# the demo's reports, each with what an officer looks at first: the late and overdue
# registrations (the summary above them still counts every status)
DEMO_REPORTS = (("late-registrations", ("--status", "late,overdue")), ("maladministration", ()))


def show_reports(learners: int) -> None:
    """The late-registration and maladministration reports, if the ledger has them."""
    context = click.get_current_context()
    root = context.find_root()
    group = root.command
    report = group.get_command(root, "report") if isinstance(group, click.Group) else None
    if not isinstance(report, click.Group):
        click.echo(f"The demo centre has {learners} learners.")
        return
    for name, chosen in DEMO_REPORTS:
        if report.get_command(root, name) is None:
            continue
        click.echo("")
        try:
            with report.make_context("report", [name, *chosen, "--limit", str(DEMO_ROWS)],
                                     parent=root) as sub:
                report.invoke(sub)
        except (click.exceptions.Exit, SystemExit):
            pass  # a report that exits 1 when it has findings: the demo is meant to have some
