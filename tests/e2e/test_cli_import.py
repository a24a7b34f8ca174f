"""`ledger import` and `ledger demo` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from click.testing import CliRunner

from cli.importing import demo

HEADER = ("centre,learner,given_name,family_name,date_of_birth,gender,uln,enrolment,"
          "awarding_body,qualification,qualification_title,programme_start,planned_end,"
          "registration_submitted\n")
ROWS = ("C1,L1,Zoë,O'Brien,01/02/2000,f,1000000043,E1,IMI,603/1234/5,Light vehicle,"
        "2025-09-01,2026-07-01,2025-10-01\n"
        "\n"
        "C1,L2,Siân,Jones,2001-03-04,2,,E1,AIM,600/1/2,Customer service,01/09/2025,"
        "01/07/2026,\n")


def csv_file(tmp_path: Path, body: str, name: str = "learners.csv") -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8-sig")
    return str(path)


def test_import_prints_a_summary_and_a_second_import_records_nothing(ledger, tmp_path):
    path = csv_file(tmp_path, HEADER + ROWS)
    first = ledger("import", path)
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "Imported learners.csv (mis-export layout)\n"
        "  rows:                  2\n"
        "  learners:              2 new, 0 updated\n"
        "  events written:        5\n"
        "  rows already recorded: 0\n"
        "  rows skipped:          0\n"
        "  data-quality warnings: 0\n"
    )
    again = ledger("import", path)
    assert again.exit_code == 0, again.output
    assert "  events written:        0\n  rows already recorded: 2\n" in again.stdout
    audit = ledger("audit", "L1", "--format", "json")
    sources = {event["source"] for event in json.loads(audit.stdout)["events"]}
    assert sources == {"import learners.csv:2"}


def test_a_bad_file_lists_every_problem_and_writes_nothing(ledger, tmp_path):
    bad = ROWS.replace("01/02/2000", "30/02/2000").replace(",2,,E1,", ",7,,E1,")
    result = ledger("import", csv_file(tmp_path, HEADER + bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "  line 2, column date_of_birth: '30/02/2000' is not a real date "
        "(day is out of range for month)\n"
        "  line 4, column gender: '7' is not a gender code (0, 1, 2, 9)\n"
        "Error: 2 of 2 rows in learners.csv are invalid; nothing was written (fix them, or "
        "use --skip-invalid to import the valid rows)\n"
    )
    assert ledger("audit", "L1").exit_code == 1


def test_import_with_worker_processes_reports_and_refuses_as_with_one(ledger, tmp_path):
    good = ledger("import", csv_file(tmp_path, HEADER + ROWS), "--workers", "2")
    assert good.exit_code == 0, good.output
    assert "  learners:              2 new, 0 updated\n  events written:        5\n" in good.stdout
    bad = ROWS.replace("01/02/2000", "30/02/2000").replace("C1,L2,", "C2,L1,")
    single = ledger("import", csv_file(tmp_path, HEADER + bad, "bad.csv"), "--workers", "1")
    shared = ledger("import", csv_file(tmp_path, HEADER + bad, "bad.csv"), "--workers", "2")
    assert (shared.exit_code, shared.stderr) == (1, single.stderr)
    assert "line 2, column date_of_birth" in shared.stderr


def test_skip_invalid_imports_the_good_rows_and_names_the_skipped_ones(ledger, tmp_path):
    bad = ROWS.replace(",2,,E1,", ",7,,E1,")
    result = ledger("import", csv_file(tmp_path, HEADER + bad), "--skip-invalid")
    assert result.exit_code == 0
    assert result.stderr == (
        "Skipped line 4, column gender: '7' is not a gender code (0, 1, 2, 9)\n"
    )
    assert "  learners:              1 new, 0 updated\n" in result.stdout
    assert "  rows skipped:          1\n" in result.stdout


def test_a_dry_run_says_what_it_would_write(ledger, tmp_path):
    result = ledger("import", csv_file(tmp_path, HEADER + ROWS), "--dry-run")
    assert result.stdout.splitlines()[0] == "Checked learners.csv (mis-export layout)"
    assert "  events to write:       5\n" in result.stdout
    assert result.stdout.endswith("Dry run: nothing was written.\n")
    assert ledger("audit", "L1").exit_code == 1


def test_extra_columns_are_ignored_with_a_notice_and_json_is_one_document(ledger, tmp_path):
    body = HEADER.replace("\n", ",Tutor\n") + ROWS.replace("10-01\n", "10-01,Ms Khan\n")
    result = ledger("import", csv_file(tmp_path, body), "--format", "json")
    assert result.stderr == "Notice: ignored column not in the mis-export layout: Tutor\n"
    document = json.loads(result.stdout)
    assert (document["rows"], document["events"], document["ignored_columns"]) == (
        2, 5, ["Tutor"])


def test_missing_columns_are_refused_by_name(ledger, tmp_path):
    result = ledger("import", csv_file(tmp_path, "event,centre,learner\nuln,C1,L1\n"))
    assert result.exit_code == 1
    assert result.stderr == (
        "  line 1: missing required column(s) for the events layout: occurred_on\n"
        "Error: the header row is not usable; nothing was written\n"
    )


def test_the_shipped_templates_import_cleanly(ledger):
    templates = Path(__file__).resolve().parents[2] / "ledger" / "templates"
    first = ledger("import", str(templates / "mis_export.csv"))
    second = ledger("import", str(templates / "events.csv"))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "  events written:        3\n" in second.stdout


def test_demo_builds_a_centre_through_the_import_then_reports_on_it(ledger, tmp_path):
    result = ledger("demo", "--learners", "12", "--seed", "3",
                    "--csv", str(tmp_path / "centre.csv"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"Imported centre\.csv: 1\d rows, 12 new learners, \d+ events written",
                        lines[0])
    assert re.fullmatch(r"Imported centre-lrs-results\.csv: \d+ rows, 0 new learners, "
                        r"\d+ events written", lines[1])
    assert (tmp_path / "centre.csv").exists()
    again = ledger("demo", "--learners", "12", "--seed", "3")
    assert re.match(r"Imported demo-centre\.csv: 1\d rows, 0 new learners, 0 events written",
                    again.stdout)
    assert "Late registrations judged on" in again.stdout
    assert re.search(r"^\d+ findings", again.stdout, re.MULTILINE)
    verified = ledger("verify")
    assert verified.exit_code == 0 and verified.stdout.startswith("Verified ")


def test_demo_does_not_use_ledger_db_from_the_environment(tmp_path, monkeypatch):
    from cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGER_DB", f"sqlite:///{tmp_path / 'real.db'}")
    result = CliRunner().invoke(cli, ["demo", "--learners", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ledger-demo.db").exists() and not (tmp_path / "real.db").exists()


def test_demo_output_fits_an_80_column_terminal(tmp_path, monkeypatch):
    from cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(cli, ["demo", "--learners", "100"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Imported demo-centre.csv: ")
    too_long = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert not too_long, too_long


def test_demo_prints_both_reports_when_the_ledger_has_them(db_url, tmp_path):
    from cli.context import Settings

    @click.group()
    @click.pass_context
    def root(context: click.Context) -> None:
        context.obj = Settings(db=db_url, actor="tester")

    @root.group("report")
    def report() -> None:
        """Reports."""

    for name in ("late-registrations", "maladministration", "other"):
        @report.command(name)
        @click.option("--format", "fmt", default="table")
        @click.option("--limit", type=int, default=None)
        @click.option("--status", default="every status")
        def command(fmt: str, limit: int | None, status: str, name: str = name) -> None:
            click.echo(f"[{name} report as {fmt}, {limit} rows, {status}]")
            if name == "maladministration":
                raise click.exceptions.Exit(1)

    root.add_command(demo)
    result = CliRunner().invoke(root, ["demo", "--learners", "5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == [
        "", "[late-registrations report as table, 10 rows, late,overdue]", "",
        "[maladministration report as table, 10 rows, every status]",
        "", f"The demo ledger is {db_url}.",
        "Every row of its reports, and a learner's trail, with its --db:",
        f"  ledger --db {db_url} report late-registrations --limit 0",
        f"  ledger --db {db_url} report maladministration --limit 0",
        f"  ledger --db {db_url} audit L00002",
    ]


def test_import_and_demo_have_help():
    from cli.main import cli

    for command in ("import", "demo"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage: " in result.output


def test_reports_that_cannot_be_brought_up_to_date_leave_the_import_recorded(
    ledger, tmp_path, monkeypatch
):
    """The import is committed before its reports phase: a failure there says so on stderr,
    the summary still follows, and the next report catches up."""
    from eventsourcing.persistence import OperationalError

    import cli.importing

    def locked(*_args: object) -> int:
        raise OperationalError("database is locked")

    refresh_rows = cli.importing.refresh_rows
    monkeypatch.setattr(cli.importing, "refresh_rows", locked)
    result = ledger("import", csv_file(tmp_path, HEADER + ROWS))
    assert result.exit_code == 0, result.output
    assert "the import is recorded, but the reports could not be brought up to date" in (
        result.stderr)
    assert "  events written:        5\n" in result.stdout
    monkeypatch.setattr(cli.importing, "refresh_rows", refresh_rows)
    report = ledger("report", "late-registrations", "--format", "json", "--on", "2025-12-01")
    assert report.exit_code == 0, report.output
    assert [row["learner"] for row in json.loads(report.stdout)["rows"]] == ["L1"]
