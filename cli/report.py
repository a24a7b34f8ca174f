"""Report commands: late registrations, maladministration, audit listings, rebuild and replay."""

from __future__ import annotations

import itertools
import shlex
import shutil
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson
from click.core import ParameterSource

from aggregates.errors import InvalidValue
from aggregates.values import parse_centre, parse_date, parse_timestamp
from cli.context import settings, user_errors
from cli.output import (
    FORMULA_STARTS,
    csv_line_cells,
    emit_json,
    emit_rows,
    folded,
    format_option,
    guarded,
    output_option,
    plural,
    stream_csv,
    stream_csv_cells,
    stream_json,
    stream_table,
    terminal_width,
)
from ledger.integrity.chain import EMPTY, Digest
from ledger.privacy.redaction import HELP as REDACT_HELP
from ledger.privacy.redaction import redact
from ledger.reporting.report_queries import (
    BODY,
    CENTRE,
    CLAUSE,
    DAYS,
    DEADLINE,
    ENROLMENT,
    EVIDENCE,
    F_BODY,
    F_CENTRE,
    F_CITATION,
    F_CLAUSE,
    F_DATES,
    F_ENROLMENT,
    F_EVIDENCE,
    F_LEARNER,
    F_MESSAGE,
    F_RULE,
    F_SEVERITY,
    F_VERSION,
    LEARNER,
    LEFT,
    RULE,
    START,
    STATUS,
    SUBMITTED,
    VERSION,
    KeptReport,
    Record,
    TimelinesReport,
    current_report,
)
from ledger.rules.names import parse_known_awarding_body
from ledger.rules.rulesets import SEVERITIES, RuleBook, load_rulebook, rule_rows
from projections.late_registrations import (
    LATE_COLUMNS,
    STATUSES,
    Unjudged,
    unjudged_counts,
)
from projections.maladministration import (
    ENROLMENT_CHECKS,
    FINDING_COLUMNS,
    LEARNER_CHECKS,
    Finding,
)

if TYPE_CHECKING:
    from projections.timeline import Timeline

# The reports' light path (kept rows current: read them through the DB-API alone) loads only
# the modules above; the application, SQLAlchemy and the recorder's libraries load in the
# functions that open the application.

F = TypeVar("F", bound=Callable[..., Any])
NOT_JUDGED = "not-judged"
TABLE_FINDING_COLUMNS = ("severity", "learner", "enrolment", "rule", "citation", "evidence",
                         "message")
# every CSV row names the date it was judged on and the ledger it was judged from
STAMP_COLUMNS = ("judged_on", "ledger_digest", "centre")
LATE_CSV_COLUMNS = (*LATE_COLUMNS, *STAMP_COLUMNS, "evidence")
FINDING_CSV_COLUMNS = (*FINDING_COLUMNS, *STAMP_COLUMNS)
# the late-registration table: short headers, and the columns kept on the row first
LATE_HEADERS = {"awarding_body": "AO", "programme_start": "start", "days_late": "days"}
LATE_PRIORITY = ("learner", "enrolment", "status", "days_late", "deadline", "submitted",
                 "awarding_body", "programme_start")
RULE_IDS = (*ENROLMENT_CHECKS, *LEARNER_CHECKS, "late-registration",
            "persistent-late-registration")


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
        click.option("--redact", is_flag=True, help=REDACT_HELP),
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
        self.book: RuleBook = load_rulebook(policies, nation)
        self.body = parse_known_awarding_body(awarding_body, self.book.awarding_bodies) \
            if awarding_body else None
        self.centre = parse_centre(centre) if centre else None

    def timelines(self) -> list[Timeline]:
        """The timelines the report reads; notes the digest of the ledger behind them."""
        from ledger.integrity.verify import digest_at
        from ledger.reporting.as_at import timelines_as_recorded
        from ledger.reporting.reports import current_timelines

        app = settings().app()
        if self.moment is not None:
            found = timelines_as_recorded(app, self.moment, self.centre)
            position = max((t["position"] for t in found), default=0)
        else:
            found, position = current_timelines(app, self.centre)
        self.digest = digest_at(app, position)
        return found

    @contextmanager
    def reading(self) -> Iterator[KeptReport | TimelinesReport]:
        """The report's reading of the ledger, every question of it in one snapshot, with
        the digest of the ledger behind it noted. Without --as-at, kept rows that are current
        are read through the DB-API alone (`current_report`: no application, no catch-up;
        not on a date months back, for which `report` keeps dated rows); else `report`."""
        report = self._current_report() if self.moment is None else None
        report = report or self.report()
        try:
            with report.snapshot():
                if isinstance(report, KeptReport):
                    self.digest = report.digest(None if self.moment is None
                                                else report.recorded_position())
                yield report
        finally:
            report.close()

    def _current_report(self) -> KeptReport | None:
        """The kept rows, when they are current, read without opening the application."""
        from ledger.storage.dbapi import plain_url

        return current_report(plain_url(settings().db), self.book, self.on, self.body,
                              self.centre)

    def report(self) -> KeptReport | TimelinesReport:
        """The report's reading of the ledger: the kept rows, refreshed first (progress on
        stderr); from timelines in memory for --as-at or a login or file that may not write
        the report tables (or the kept rows'). The digest is noted by `reading`."""
        from cli.progress_bar import TerminalProgress
        from ledger.reporting.dated_rows import report_on
        from ledger.reporting.history_queries import HistoryReport
        from ledger.reporting.rebuild import catch_up_all
        from ledger.reporting.report_rows import may_write_rows, refresh_rows
        from ledger.reporting.reports import may_write_reports, open_view

        app = settings().app()
        if not may_write_reports(app) or not may_write_rows(app):
            return self._report_from_timelines()
        catch_up_all(app, open_view(app))
        with TerminalProgress(unit="learners") as progress:
            refresh_rows(app, self.book, progress)
        if self.moment is None:
            return report_on(app, self.book, self.on, self.body, self.centre)
        return HistoryReport(app, self.book, self.on, self.moment, self.body, self.centre)

    def _report_from_timelines(self) -> TimelinesReport:
        """The report judged in memory from the timelines (as recorded by --as-at)."""
        return TimelinesReport(self.timelines(), self.book, self.on, self.body, self.centre)

    def plain_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row, redacted when --redact was given."""
        return redact(row) if self.redact else row

    def stamps(self) -> dict[str, Any]:
        """What ties a kept CSV row to the ledger: the judging date and the ledger digest."""
        return {"judged_on": self.on, "ledger_digest": str(self.digest)}

    @property
    def on_text(self) -> str:
        return self.on.isoformat()

    @cached_property
    def digest_text(self) -> str:
        """The digest as a CSV cell (read once the report has noted it)."""
        return guarded(str(self.digest))

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
            line = (f"Ledger digest: {self.digest} (check later with `ledger verify "
                    f"--digest {self.digest}`)")
            click.echo(folded(line, terminal_width(), hanging=4) if fmt == "table" else line,
                       err=fmt in ("csv", "html"))

    def title(self, name: str) -> str:
        known = f", as recorded by {self.moment.isoformat()}" if self.moment else ""
        return f"{name} judged on {self.on.isoformat()}{known}"


@click.group("report")
def report_group() -> None:
    """Compliance reports computed from the ledger's events."""


def parse_statuses(_ctx: click.Context, _param: click.Parameter,
                   value: str | None) -> tuple[str, ...] | None:
    """`--status late,overdue`: statuses the report knows, in the order given."""
    if not value:
        return None
    statuses = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [status for status in statuses if status not in STATUSES]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (choose from {', '.join(STATUSES)})")
    return statuses


TABLE_ROWS = 20  # rows a report's table shows unless --limit says otherwise

limit_option = click.option(
    "--limit", type=click.IntRange(min=0), default=None,
    help=f"Show at most N rows (0: every row; default: every row, but {TABLE_ROWS} in a "
         "table); the summary counts them all.")


def row_limit(fmt: str, limit: int | None) -> int:
    """The rows to show: `limit` (0: every row); none given, every row but in a table."""
    if limit is None:
        return TABLE_ROWS if fmt == "table" else 0
    return limit


def more_rows_hint(shown: int, total: int) -> None:
    """Under a table cut short: how many rows there are and the command that shows them
    all (`every_row_command`: the options the user gave, `--limit 0` for theirs)."""
    if shown < total:
        click.echo(folded(f"Showing {shown:,} of {total:,} rows; every row: "
                          f"`{every_row_command()}` (or --format csv).", terminal_width()))


# options a command for every row leaves out: it sets the limit, and shows a table
NOT_REPEATED = frozenset({"limit", "fmt", "output"})


def every_row_command() -> str:
    """The command being run, as the user typed its options (those given on the command
    line: `--db`, `--on`, `--status` and the like, quoted for a shell; not those from the
    environment, which the user's shell still has), with `--limit 0` in place of theirs."""
    contexts: list[click.Context] = []
    context: click.Context | None = click.get_current_context()
    while context is not None:
        contexts.insert(0, context)
        context = context.parent
    parts = ["ledger"]
    for context in contexts:
        if context.parent is not None:
            parts.append(context.info_name or context.command.name or "")
        for param in context.command.params:
            if (not isinstance(param, click.Option) or param.name in NOT_REPEATED
                    or param.name is None or context.get_parameter_source(param.name)
                    is not ParameterSource.COMMANDLINE):
                continue
            name = max(param.opts, key=len)
            value = context.params.get(param.name)
            if param.is_flag:
                if value:
                    parts.append(name)
                continue
            text = ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value)
            parts.extend((name, shlex.quote(text)))
    return " ".join([*parts, "--limit", "0"])


@report_group.command("late-registrations")
@report_options
@limit_option
@click.option("--status", "statuses", default=None, callback=parse_statuses,
              help=f"Only rows of these statuses, comma-separated ({', '.join(STATUSES)}); "
                   "the summary counts them all.")
@click.option("--check", is_flag=True, help="Exit with status 1 if any row is late or overdue.")
@user_errors
def late_registrations_report(fmt: str, check: bool, output: Path | None, limit: int | None,
                              statuses: tuple[str, ...] | None, **options: Any) -> None:
    """One row per enrolment: deadline, submission and status (late, overdue, at-risk, on-time).

    In a table, the counts by status come first, then the first rows (--limit 0: every row).
    """
    selection = Selection(**options)
    limit = row_limit(fmt, limit)
    with selection.reading() as report:
        by_body = report.body_status_counts()
        counts = status_totals(by_body)
        unjudged = report.unjudged()
        records = report.registration_records(statuses, limit=limit)
        _late_output(fmt, output, selection, report, records, by_body, unjudged, statuses)
        selection.print_digest(fmt)
    _note_unjudged(unjudged)
    if check and (counts["late"] or counts["overdue"]):
        sys.exit(1)


def _late_output(fmt: str, output: Path | None, selection: Selection,
                 report: KeptReport | TimelinesReport, records: Iterator[Record],
                 by_body: Counter[tuple[str, str]], unjudged: list[Unjudged],
                 statuses: tuple[str, ...] | None) -> None:
    """The late-registration report in its format, its rows streamed from `records`."""
    unjudged_rows = [vars(u) for u in unjudged]
    document = {**selection.header("late-registrations"), "unjudged": unjudged_rows,
                "not_judged": unjudged_counts(unjudged)}
    rows = map(selection.plain_row, registration_dicts(records))
    if fmt == "html":
        from ledger.web.html_report import late_registrations_html, write_report

        write_report(output, late_registrations_html(list(rows), LATE_COLUMNS, document,
                                                     selection.book))
    elif fmt == "csv":  # the enrolments not judged are rows too, their reason as the rule
        stamps = selection.stamps()
        judged = (late_csv_lines(records, selection) if not selection.redact else
                  (csv_line_cells({**row, **stamps}, LATE_CSV_COLUMNS) for row in rows))
        stream_csv_cells(itertools.chain(judged, (
            csv_line_cells({**row, **stamps, "status": NOT_JUDGED, "rule": row["reason"]},
                           LATE_CSV_COLUMNS) for row in unjudged_rows)), LATE_CSV_COLUMNS)
    elif fmt == "json":
        stream_json(document, rows)
    else:  # the summary first
        counts = status_totals(by_body)
        click.echo(status_summary(counts, plural(sum(counts.values()), "enrolment")))
        bodies = sorted({body for body, _ in by_body})
        if len(bodies) > 1:  # and by awarding body, when there are several
            for body in bodies:
                of_body = Counter({s: n for (b, s), n in by_body.items() if b == body})
                click.echo(status_summary(of_body, f"  {body}: "
                                          f"{plural(sum(of_body.values()), 'enrolment')}"))
        shown = stream_table(rows, LATE_COLUMNS, late_widths(report.widths()),
                             selection.title("Late registrations"), details=("rule",),
                             priority=LATE_PRIORITY, headers=LATE_HEADERS)
        more_rows_hint(shown, sum(counts[s] for s in statuses or STATUSES))
        _show_unjudged(unjudged)


@report_group.command("maladministration")
@report_options
@limit_option
@click.option("--check", is_flag=True, help="Exit with status 1 if there is any finding.")
@user_errors
def maladministration_report(fmt: str, check: bool, output: Path | None, limit: int | None,
                            **options: Any) -> None:
    """Findings: each names its rule (AO, version, clause) and the events that prove it.

    In a table, the counts by severity come first, then the first findings (--limit 0: every
    finding).
    """
    selection = Selection(**options)
    limit = row_limit(fmt, limit)
    with selection.reading() as report:
        unjudged = report.unjudged()
        found_any = _findings_output(fmt, output, selection, report, limit, unjudged)
        selection.print_digest(fmt)
    _note_unjudged(unjudged)
    if check and found_any:
        sys.exit(1)


def _findings_output(fmt: str, output: Path | None, selection: Selection,
                     report: KeptReport | TimelinesReport, limit: int,
                     unjudged: list[Unjudged]) -> bool:
    """The maladministration report in its format; whether there is any finding."""

    def rows() -> Iterator[dict[str, Any]]:
        found = report.findings()
        return (selection.plain_row(finding_dict(f))
                for f in (itertools.islice(found, limit) if limit else found))

    if fmt == "table":
        return _findings_table(selection, report, limit, unjudged)
    if fmt == "html":
        from ledger.web.html_report import maladministration_html, write_report

        write_report(output, maladministration_html(
            list(rows()), selection.header("maladministration")))
        return next(report.findings(), None) is not None
    if fmt == "csv":  # the enrolments not judged are rows too, their reason the message
        stamps = selection.stamps()
        records = report.finding_records()
        records = itertools.islice(records, limit) if limit else records
        lines = (finding_csv_lines(records, selection) if not selection.redact else
                 (csv_line_cells({**row, **stamps}, FINDING_CSV_COLUMNS) for row in rows()))
        return stream_csv_cells(itertools.chain(lines, (
            csv_line_cells({**vars(u), **stamps, "severity": NOT_JUDGED, "message": u.reason},
                           FINDING_CSV_COLUMNS) for u in unjudged)),
            FINDING_CSV_COLUMNS) > len(unjudged)
    if selection.redact:
        json_rows = rows()
    else:
        found = report.finding_rows()
        json_rows = itertools.islice(found, limit) if limit else found
    return stream_json({
        **selection.header("maladministration"), "unjudged": [vars(u) for u in unjudged],
        "not_judged": unjudged_counts(unjudged)}, json_rows) > 0


def _findings_table(selection: Selection, report: KeptReport | TimelinesReport, limit: int,
                    unjudged: list[Unjudged]) -> bool:
    """The counts by severity (counted in SQL from the kept rows), then the first `limit`
    findings (0: every one), the findings read once."""
    counts = report.severity_counts()
    total = sum(counts.values())
    detail = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s])
    click.echo(plural(total, "finding") + (f": {detail}" if detail else ""))
    widths = {**report.widths(), "severity": max(map(len, SEVERITIES)),
              "rule": max(map(len, RULE_IDS))}
    found = report.findings()
    shown_rows = itertools.islice(found, limit) if limit else found
    shown = stream_table((selection.plain_row(finding_dict(f)) for f in shown_rows),
                         TABLE_FINDING_COLUMNS, widths,
                         selection.title("Maladministration findings"),
                         details=("citation", "evidence", "message"))
    more_rows_hint(shown, total)
    _show_unjudged(unjudged)
    return total > 0


class DayText(dict[int | None, str]):
    """Ordinal days as ISO text, each distinct day formatted once ('' for None)."""

    def __missing__(self, day: int | None) -> str:
        text = "" if day is None else date.fromordinal(day).isoformat()
        self[day] = text
        return text


class Days(dict[int | None, date | None]):
    """Ordinal days as dates, each distinct day made once (None for None)."""

    def __missing__(self, day: int | None) -> date | None:
        found = None if day is None else date.fromordinal(day)
        self[day] = found
        return found


def status_totals(by_body: Counter[tuple[str, str]]) -> Counter[str]:
    """The counts by status of counts by (awarding body, status)."""
    totals: Counter[str] = Counter()
    for (_, status), count in by_body.items():
        totals[status] += count
    return totals


def status_summary(counts: Counter[str], head: str) -> str:
    """A summary line: `head`, then the count of each status there is, in the report's order."""
    detail = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    return head + (f": {detail}" if detail else "")


def late_csv_lines(records: Iterable[Record], selection: Selection) -> Iterator[list[str]]:
    """Kept registration tuples as CSV cells (`LATE_CSV_COLUMNS`), as `csv_line_cells` makes
    them from a row's dict with the stamps, without the dict or the row object."""
    days, on, digest = DayText(), selection.on_text, selection.digest_text
    few = Guarded()  # awarding bodies, rules and centres: a few values, each guarded once
    starts = FORMULA_FIRST
    for r in records:
        learner, enrolment = r[LEARNER], r[ENROLMENT]
        yield [("'" + learner) if learner[:1] in starts else learner,
               ("'" + enrolment) if enrolment[:1] in starts else enrolment,
               few[r[BODY]], days[r[START]], days[r[DEADLINE]], days[r[SUBMITTED]], r[STATUS],
               str(r[DAYS]), few[r[RULE]], on, digest, few[r[CENTRE]],
               r[EVIDENCE][1:-1].replace(", ", "; ")]


FORMULA_FIRST = frozenset(FORMULA_STARTS)  # the first characters `guarded` neutralises


class Guarded(dict[str, str]):
    """Text as CSV cells (`guarded`), each distinct text neutralised once."""

    def __missing__(self, text: str) -> str:
        cell = self[text] = guarded(text)
        return cell


DATES_CELLS = 100_000  # distinct dates cells kept while a report streams


class DatesCells(dict[str, str]):
    """A finding's dates (their JSON text) as the CSV cell `key=day, ...` (days that are
    None left out, neutralised), each distinct text made once: findings share few (7,536
    distinct among 93,906 on the bench ledger), and at most `DATES_CELLS` are kept."""

    def __missing__(self, text: str) -> str:
        cell = ", ".join([f"{key}={day}" for key, day in orjson.loads(text).items()
                          if day is not None])
        cell = ("'" + cell) if cell[:1] in FORMULA_FIRST else cell
        if len(self) < DATES_CELLS:
            self[text] = cell
        return cell


def finding_csv_lines(findings: Iterable[Record], selection: Selection,
                      ) -> Iterator[list[str]]:
    """Finding records (`KeptReport.finding_records`) as CSV cells (`FINDING_CSV_COLUMNS`),
    as `csv_line_cells` makes them from a finding's dict with the stamps."""
    few, on, digest = Guarded(), selection.on_text, selection.digest_text
    dates_cells = DatesCells()
    starts = FORMULA_FIRST
    for f in findings:
        learner, enrolment, message = f[F_LEARNER], f[F_ENROLMENT] or "", f[F_MESSAGE]
        evidence = f[F_EVIDENCE][1:-1].replace(", ", "; ")
        yield [few[f[F_RULE]], few[f[F_BODY]], few[f[F_VERSION]], few[f[F_CLAUSE]],
               few[f[F_SEVERITY]],
               ("'" + learner) if learner[:1] in starts else learner,
               ("'" + enrolment) if enrolment[:1] in starts else enrolment,
               dates_cells[f[F_DATES]],
               ("'" + evidence) if evidence[:1] in starts else evidence,
               ("'" + message) if message[:1] in starts else message, few[f[F_CITATION]],
               on, digest, few[f[F_CENTRE]]]


def registration_dicts(records: Iterable[Record]) -> Iterator[dict[str, Any]]:
    """Kept registration tuples as the rows' dicts (`RegistrationRow.as_row`'s keys)."""
    days, loads = Days(), orjson.loads
    for r in records:
        yield {"learner": r[LEARNER], "enrolment": r[ENROLMENT], "awarding_body": r[BODY],
               "programme_start": days[r[START]], "deadline": days[r[DEADLINE]],
               "submitted": days[r[SUBMITTED]], "status": r[STATUS],
               "days_late": int(r[DAYS]), "rule": r[RULE], "centre": r[CENTRE],
               "rule_version": r[VERSION], "clause": r[CLAUSE],
               "evidence": loads(r[EVIDENCE]), "left": days[r[LEFT]]}


def finding_dict(found: Finding) -> dict[str, Any]:
    """A finding as a plain dict (`as_row`, without its deep copy)."""
    row = dict(vars(found))
    del row["extra"], row["due_after"]
    return row


def late_widths(widths: dict[str, int]) -> dict[str, int]:
    """The late-registration table's column widths: dates, statuses and days are known."""
    return {**widths, "programme_start": 10, "deadline": 10, "submitted": 10,
            "status": max(map(len, STATUSES)), "days_late": 5}


@report_group.command("certificates")
@report_options
@user_errors
def certificates_report(fmt: str, output: Path | None, **options: Any) -> None:
    """Certificates received and not collected: held, or held past the awarding body's months
    and due for the centre to contact the learner (AIM 5.4)."""
    from projections.certificates import (
        CERTIFICATE_COLUMNS,
        CERTIFICATE_STATUSES,
        uncollected_certificates,
    )

    if fmt == "html":
        raise click.UsageError("the certificates report has no HTML format yet: use table, "
                               "json or csv")
    selection = Selection(**options)
    held = uncollected_certificates(selection.timelines(), selection.book, selection.on,
                                    selection.body, selection.centre)
    rows = selection.rows([row.as_row() for row in held])
    emit_rows(rows, CERTIFICATE_COLUMNS, fmt, selection.title("Uncollected certificates"),
              selection.header("certificates"))
    if fmt == "table":
        counts = Counter(row.status for row in held)
        detail = ", ".join(f"{counts[s]} {s}" for s in CERTIFICATE_STATUSES if counts[s])
        click.echo(f"{len(held)} certificates not collected" + (f": {detail}" if detail else ""))
    selection.print_digest(fmt)


@report_group.command("audit")
@click.option("--centre", required=True, help="Centre number.")
@click.option("--from", "from_", default=None, help="First recorded date (ISO).")
@click.option("--to", default=None, help="Last recorded date (ISO).")
@click.option("--as-at", "as_at", default=None,
              help="Use only events recorded by this moment (ISO; UTC unless zoned).")
@click.option("--redact", "masked", is_flag=True, help=REDACT_HELP)
@click.option("--timezone", "zone_name", envvar="LEDGER_TIMEZONE", default=None,
              help="Show recorded times in this zone (default: LEDGER_TIMEZONE or "
                   "Europe/London); JSON and CSV keep UTC.")
@format_option("table", "json", "csv", "html")
@output_option
@user_errors
def audit_listing(centre: str, from_: str | None, to: str | None, as_at: str | None,
                  masked: bool, zone_name: str | None, fmt: str, output: Path | None) -> None:
    """Every event recorded for a centre's learners, in recorded order, with retractions.

    Streamed: the events are read a window of positions at a time, whatever the centre's
    size. The table shows one event a line (position, recorded time, learner, event), what
    it recorded on the lines below it."""
    from cli.audit_text import centre_zone, streamed_audit_text
    from ledger.reporting.centre_audit import centre_audit
    from ledger.reporting.reports import last_position
    from projections.audit import AUDIT_COLUMNS

    centre = parse_centre(centre)
    first = parse_date(from_, "from") if from_ else None
    last = parse_date(to, "to") if to else None
    moment = parse_timestamp(as_at) if as_at else None
    zone = centre_zone(zone_name)  # checked in every format, used by the table
    app = settings().app()
    rows: Iterable[dict[str, Any]] = centre_audit(app, centre, moment, first, last)
    if masked:
        rows = (redact(row) for row in rows)
    columns = ("learner", *AUDIT_COLUMNS)
    document = {"centre": centre, "from": first, "to": last, "as_at": moment,
                "redacted": masked}
    if fmt == "html":
        _audit_html(app, list(rows), columns, document, output)
    elif fmt == "json":
        stream_json(document, rows)
    elif fmt == "csv":
        stream_csv(rows, columns)
    else:
        title = f"Audit of centre {centre}" + (f" as at {as_at}" if moment else "")
        digits = len(str(last_position(app)))
        for line in streamed_audit_text(rows, title, zone, terminal_width(), digits):
            click.echo(line)


def _audit_html(app: Any, rows: list[dict[str, Any]], columns: tuple[str, ...],
                document: dict[str, Any], output: Path | None) -> None:
    """The centre's audit as one self-contained HTML file, headed with the ledger's digest
    at its last event."""
    from ledger.integrity.verify import digest_at
    from ledger.web.html_report import audit_html, write_report

    digest = digest_at(app, max((row["position"] for row in rows), default=0))
    write_report(output, audit_html(rows, columns, {
        **document, "ledger_digest": str(digest),
        "period": f"{document['from'] or 'the start'} to {document['to'] or 'now'}"}))


def _coverage(book: RuleBook) -> list[dict[str, Any]] | None:
    """Coverage of each awarding body in use, or None when there is no ledger to read."""
    from ledger.reporting.reports import current_timelines
    from ledger.storage.persistence import database_url
    from projections.coverage import coverage

    current = settings()
    url = database_url(current.db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    timelines, _ = current_timelines(current.app())
    return coverage(timelines, book, book.awarding_bodies)


RULE_COLUMNS = ("awarding_body", "version", "effective_from", "rule", "severity", "cited",
                "quote")


@click.command("rules")
@click.option("--policies", envvar="LEDGER_POLICIES", default=None,
              help="Extra rule-set directory (default: LEDGER_POLICIES).")
@click.option("--awarding-body", "awarding_body", default=None,
              help="Only this awarding body (e.g. AIM).")
@format_option("text", "json", "csv")
@user_errors
def rules_command(policies: str | None, awarding_body: str | None, fmt: str) -> None:
    """Every rule: its awarding body and version, the clause it cites and the seed's words."""
    from projections.coverage import COVERAGE_COLUMNS

    book = load_rulebook(policies)
    body = (parse_known_awarding_body(awarding_body, book.awarding_bodies)
            if awarding_body else None)
    rows = [row for row in rule_rows(book)
            if body is None or row["awarding_body"] in (body, "every awarding body")]
    used = _coverage(book)
    if fmt == "text":
        _print_rules(rows)
        click.echo("\nHow the ledger counts")
        width = max(40, min(shutil.get_terminal_size().columns, 100))
        for text in book.conventions.values():
            click.echo(textwrap.fill(text, width, initial_indent="  - ",
                                     subsequent_indent="    "))
        click.echo()
        if used is None:
            click.echo("No ledger here: coverage of the awarding bodies in use is not shown.")
        else:
            emit_rows(used, COVERAGE_COLUMNS, "table", "Awarding bodies in use: coverage")
    else:
        emit_rows(rows, RULE_COLUMNS, fmt, "Rules",
                  {"awarding_body": body, "conventions": book.conventions, "coverage": used})


report_group.add_command(rules_command, "rules")  # the same as `ledger rules`


def _print_rules(rows: list[dict[str, Any]]) -> None:
    """Rules as blocks wrapped to the terminal: a heading per rule-set version, then each
    rule's id, severity and citation, its quote indented below."""
    width = max(40, min(shutil.get_terminal_size().columns, 100))
    heading = None
    for row in rows:
        since = row["effective_from"]
        named = row["document"] or f"{row['awarding_body']} {row['version']}"
        this = (f"{named} (in force from {since.isoformat()})" if since else
                "The ledger's own rules (every awarding body)")
        if this != heading:
            click.echo(("\n" if heading else "") + this)
            heading = this
        click.echo(textwrap.fill(f"{row['rule']} ({row['severity']}): {row['cited']}",
                                 width, initial_indent="  ", subsequent_indent="    ",
                                 break_on_hyphens=False))
        if row["quote"]:
            click.echo(textwrap.fill(f"\u201c{row['quote']}\u201d", width,
                                     initial_indent="    ", subsequent_indent="    ",
                                     break_on_hyphens=False))


@click.command("rebuild")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes folding the events (default: one per core on a ledger of "
                   "50,000 events or more, else one).")
@user_errors
def rebuild_command(workers: int | None) -> None:
    """Recompute the materialised report tables from the first event."""
    from cli.progress_bar import TerminalProgress
    from ledger.reporting.rebuild import rebuild
    from ledger.reporting.reports import open_view

    app = settings().app()
    with TerminalProgress(unit="events") as progress:  # the kept rows judged again too
        count = rebuild(app, open_view(app), progress, workers, book=load_rulebook())
    click.echo(f"Rebuilt the report tables from {count} learner events")


@click.command("replay")
@click.option("--learner", default=None, help="Only this learner reference.")
@click.option("--centre", default=None,
              help="Centre number (when the learner reference exists at several centres).")
@click.option("--until", default=None,
              help="Stop at this recorded moment (ISO) or event position (a number).")
@click.option("--timezone", "zone_name", envvar="LEDGER_TIMEZONE", default=None,
              help="Show recorded times in this zone (default: LEDGER_TIMEZONE or "
                   "Europe/London); JSON keeps UTC.")
@format_option("table", "json")
@user_errors
def replay_command(learner: str | None, centre: str | None, until: str | None,
                   zone_name: str | None, fmt: str) -> None:
    """Events in recorded order with the learner's state after each, for investigations."""
    from cli.audit_text import centre_zone, local_time
    from ledger.app import MAX_POSITION
    from ledger.integrity.stamps import stamps_of
    from ledger.reporting.reports import replay
    from projections.audit import event_name
    from projections.timeline import summarise

    zone = centre_zone(zone_name)
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
            "actor": getattr(event, "actor", None), "login": None, "stamped_at": None,
            "state": state,
        })
    stamps = stamps_of(app, (row["position"] for row in rows))
    for row in rows:
        row["login"], row["stamped_at"] = stamps.get(row["position"], (None, None))
    if fmt == "json":
        emit_json({"learner": learner, "until": until, "steps": rows})
    else:
        shown = [{**row, "recorded": local_time(row["recorded"], zone),
                  "state": _state_text(row["state"])} for row in rows]
        columns = ("position", "recorded", "learner", "event", "enrolment", "occurred_on",
                   "actor", "login", "state")
        emit_rows(shown, columns, fmt, f"Replay (recorded times in {zone.key})")


def _state_text(state: dict[str, Any]) -> str:
    parts = [f"ULN {state['uln_status']}"]
    for ref, enrolment in state["enrolments"].items():
        withdrawn = ", withdrawn" if enrolment["withdrawn"] else ""
        parts.append(f"{ref} {enrolment['awarding_body']}: registration "
                     f"{enrolment['registration']}{withdrawn}, last {enrolment['latest']}")
    return "; ".join(parts)


def _show_unjudged(unjudged: list[Unjudged]) -> None:
    """The report's "not judged" section: enrolments no rule judges, by AO and reason."""
    if unjudged:
        click.echo("")
        emit_rows(unjudged_counts(unjudged), ("awarding_body", "reason", "enrolments"),
                  "table", f"Not judged: {len(unjudged)} enrolment(s) no rule set judges")


def _note_unjudged(unjudged: list[Unjudged]) -> None:
    """One line on stderr, whatever the number of enrolments not judged."""
    if not unjudged:
        return
    by_body = Counter(item.awarding_body for item in unjudged)
    parts = ", ".join(f"{body} {count}" for body, count in sorted(by_body.items()))
    click.echo(f"Note: {len(unjudged)} enrolment(s) not judged, no rule in force ({parts}); "
               "see the report's not-judged section", err=True)

