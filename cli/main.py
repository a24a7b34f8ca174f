"""The `ledger` command group: global options and the list of commands."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli.context import Settings, default_actor, settings, user_errors
from cli.history import audit
from cli.importing import demo, import_command
from cli.integrity import COMMANDS as INTEGRITY_COMMANDS
from cli.privacy import PRIVACY_COMMANDS
from cli.record import COMMANDS, learner_group
from cli.report import rebuild_command, replay_command, report_group
from cli.serve import serve, user_group


class LedgerGroup(click.Group):
    """A group whose every error, usage errors included, is one `Error: ...` line and exit 1."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as error:
            where = f"{error.ctx.command_path}: " if error.ctx else ""
            click.echo(f"Error: {where}{error.format_message()}", err=True)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
        except click.Abort:
            click.echo("Error: aborted", err=True)
        sys.exit(1)


@click.group("ledger", cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="LEDGER_DB", default=None,
              help="Database URL (sqlite:///FILE or postgresql+psycopg2://...). "
                   "Default: LEDGER_DB or sqlite:///ledger.db.")
@click.option("--actor", envvar="LEDGER_ACTOR", default=None,
              help="Who is recording (default: LEDGER_ACTOR or your user name).")
@click.version_option(package_name="compliance-ledger")
@click.pass_context
def cli(context: click.Context, db: str | None, actor: str | None) -> None:
    """The compliance ledger: an event-sourced record of learner registrations."""
    context.obj = Settings(db=db, actor=(actor or "").strip() or default_actor())


@cli.command("init")
@user_errors
def init() -> None:
    """Create the ledger's tables and append-only triggers (safe to run again)."""
    app = settings().app()
    click.echo(f"Ledger ready at {app.engine.url.render_as_string(hide_password=True)}")


cli.add_command(learner_group)
for command in COMMANDS:
    cli.add_command(command)
cli.add_command(audit)
cli.add_command(import_command)
cli.add_command(demo)
for command in (*INTEGRITY_COMMANDS, *PRIVACY_COMMANDS):
    cli.add_command(command)
for command in (report_group, rebuild_command, replay_command, serve, user_group):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ledger")
