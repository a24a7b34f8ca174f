"""The `ledger` command group: global options and the list of commands."""

from __future__ import annotations

import click

from cli.context import Settings, default_actor, settings, user_errors
from cli.history import audit
from cli.record import COMMANDS, learner_group
from cli.report import rebuild_command, replay_command, report_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="LEDGER_DB", default=None,
              help="Database URL (sqlite:///FILE or postgresql+psycopg2://...). "
                   "Default: LEDGER_DB or sqlite:///ledger.db.")
@click.option("--actor", envvar="LEDGER_ACTOR", default=None,
              help="Who is recording (default: LEDGER_ACTOR or your user name).")
@click.version_option(package_name="compliance-ledger")
@click.pass_context
def cli(context: click.Context, db: str | None, actor: str | None) -> None:
    """The compliance ledger: an event-sourced record of learner registrations."""
    context.obj = Settings(db=db, actor=actor or default_actor())


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
cli.add_command(report_group)
cli.add_command(rebuild_command)
cli.add_command(replay_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ledger")
