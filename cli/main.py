"""The `ledger` command group: global options and the commands, each loaded when it runs.

`ledger --help` and `--version` import no command module (nor the domain's values, nor the
output helpers), and `ledger audit` imports only the module that holds it, so a script
calling `ledger` once per learner does not pay for the database libraries of every other
command (bench/startup.py times it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from aggregates.errors import InvalidValue
from cli.context import Settings, default_actor, settings, user_errors

ERROR_LIMIT = 300
# The installed package's version (pyproject.toml), written here so that `ledger --version`
# does not load importlib.metadata to read it (a test checks that the two agree)
VERSION = "0.1.0"

# name: (module, attribute, the one-line help `ledger --help` lists, as the command's own)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "learner": ("cli.record", "learner_group", "Record learners."),
    "enrol": ("cli.record", "enrol", "Enrol learner REFERENCE on a qualification as ENROLMENT."),
    "uln": ("cli.record", "uln", "Record the ULN of learner REFERENCE."),
    "uln-result": ("cli.record", "uln_result",
                   "Record the LRS verification result for learner REFERENCE's ULN."),
    "id-check": ("cli.record", "id_check",
                 "Record that learner REFERENCE's identity was verified."),
    "register": ("cli.record", "register",
                 "Record the registration of ENROLMENT with the awarding body."),
    "amend": ("cli.record", "amend", "Amend learner REFERENCE's details (one event per field)."),
    "assess": ("cli.record", "assess", "Record that assessment of ENROLMENT started."),
    "withdraw": ("cli.record", "withdraw", "Record a withdrawal from ENROLMENT (or, with "
                 "--notified alone, its notification)."),
    "complete": ("cli.record", "complete",
                 "Record ENROLMENT's units completed and/or its IQA sign-off."),
    "eqa": ("cli.record", "eqa",
            "Record the external quality assurer's sampling of ENROLMENT."),
    "claim": ("cli.record", "claim", "Record the certificate claim for ENROLMENT."),
    "certificate": ("cli.record", "certificate",
                    "Record the certificate for ENROLMENT received, issued and collected."),
    "retract": ("cli.record", "retract", "Retract the event EVENT_ID (its position in the "
                "audit); the event itself stays."),
    "audit": ("cli.history", "audit",
              "Every event of learner REFERENCE in recorded order, with retractions."),
    "import": ("cli.importing", "import_command",
               "Import learners and events from FILE.csv (an MIS export or event rows) or "
               "FILE.xml (an ILR file, schema years 2024-25 to 2026-27, with --aims for its "
               "learning aims)."),
    "lrs": ("cli.lrs", "lrs_group", "LRS batch files: ask for ULNs, and record the answers."),
    "demo": ("cli.importing", "demo", "Build a realistic synthetic centre through `ledger "
             "import`, then print the reports."),
    "verify": ("cli.integrity", "verify", "Re-read every event and check the hash chain, then "
               "every signed checkpoint in the checkpoint log; exit 1 naming the first bad "
               "event or the first checkpoint that fails."),
    "digest": ("cli.integrity", "digest", "Print the head digest (POSITION:HASH) to keep for "
               "a later `ledger verify --digest`."),
    "export": ("cli.integrity", "export", "Write a bundle for an EQA: a centre's events with "
               "the hash chain and the rule sets."),
    "checkpoint": ("cli.integrity", "checkpoint", "Sign the chain's head (position, hash, "
                   "recorded time, ledger id) and append it to the checkpoint log, after "
                   "verifying the ledger against the chain and the log so far."),
    "keygen": ("cli.privacy", "keygen", "Create a master key: base64 of 32 random bytes, for "
               "LEDGER_MASTER_KEY or a key file."),
    "erase": ("cli.privacy", "erase",
              "Erase learner REFERENCE's personal data for good by destroying their key."),
    "retention": ("cli.privacy", "retention",
                  "Learners whose records are past the retention period of their rule sets."),
    "grant": ("cli.privacy", "grant_role", "Create or update PostgreSQL login role NAME with "
              "the privileges of a ledger role."),
    "report": ("cli.report", "report_group",
               "Compliance reports computed from the ledger's events."),
    "rules": ("cli.report", "rules_command", "Every rule: its awarding body and version, the "
              "clause it cites and the seed's words."),
    "rebuild": ("cli.report", "rebuild_command",
                "Recompute the materialised report tables from the first event."),
    "serve": ("cli.serve", "serve",
              "Serve the read-only web app over the ledger (or over an EQA bundle)."),
    "user": ("cli.serve", "user_group",
             "Web app users (SQLite ledgers; on PostgreSQL use `ledger grant`)."),
    "replay": ("cli.report", "replay_command", "Events in recorded order with the learner's "
               "state after each, for investigations."),
}


class LedgerGroup(click.Group):
    """A group whose commands load on first use and whose every error, usage errors
    included, is one `Error: ...` line and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the registry's help lines, loading no command module."""
        rows = [(name, COMMANDS[name][2] if name in COMMANDS and name not in self.commands
                 else self.commands[name].get_short_help_str(formatter.width))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as error:
            where = f"{error.ctx.command_path}: " if error.ctx else ""
            error_line(f"{where}{error.format_message()}")
        except click.ClickException as error:
            error_line(error.format_message())
        except click.Abort:
            error_line("aborted")
        sys.exit(1)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseException:
            if isinstance(ctx.obj, Settings):
                ctx.obj.discard_new_ledger()
            raise


def error_line(message: str) -> None:
    """`Error: message` on stderr: one line, control characters escaped, cut when long (a
    value typed by mistake is echoed, not a 100,000-character paste)."""
    from cli.output import terminal_text  # loaded on an error only: `--help` never needs it

    text = terminal_text(message)
    if len(text) > ERROR_LIMIT:
        text = f"{text[:ERROR_LIMIT]}… ({len(text):,} characters)"
    click.echo(f"Error: {text}", err=True)


@click.group("ledger", cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="LEDGER_DB", default=None,
              help="Database URL (sqlite:///FILE or postgresql+psycopg2://...). "
                   "Default: LEDGER_DB or sqlite:///ledger.db.")
@click.option("--actor", envvar="LEDGER_ACTOR", default=None,
              help="Who is recording (default: LEDGER_ACTOR or your user name).")
@click.version_option(VERSION, prog_name="ledger")
@click.pass_context
def cli(context: click.Context, db: str | None, actor: str | None) -> None:
    """The compliance ledger: an event-sourced record of learner registrations."""
    # the domain's values (and the reference data they read from TOML) load when a command
    # runs: `--help` and `--version` end before this callback
    from aggregates.values import parse_actor

    try:
        who = parse_actor((actor or "").strip() or default_actor())
    except InvalidValue as error:
        raise click.BadParameter(error.message, param_hint="--actor") from None
    context.obj = Settings(db=db, actor=who)


@cli.command("init")
@user_errors
def init() -> None:
    """Create the ledger's tables and append-only triggers (safe to run again)."""
    settings().may_create = True
    app = settings().app()
    click.echo(f"Ledger ready at {app.engine.url.render_as_string(hide_password=True)}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ledger")
