"""Privacy commands: master key, erasure (crypto-shredding), retention and database roles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from aggregates.values import parse_date
from cli.context import settings, user_errors
from cli.output import emit_rows, format_option, plural
from ledger.integrity.signing import (
    SIGNING_KEY_ENV,
    key_id,
    load_public_key,
    new_signing_key,
    write_signing_key,
)
from ledger.privacy.crypto import MASTER_KEY_FILE_ENV, encode_key, new_key, write_key_file
from ledger.privacy.erasure import erase_learner
from ledger.privacy.retention import check_erasure_date, learners_due
from ledger.privacy.roles import ROLES, grant
from ledger.rules.rulesets import load_rulebook

DEFAULT_SIGNING_KEY = "ledger-signing.pem"
RETENTION_COLUMNS = ("learner", "centre", "ended_on", "basis", "keep_until")


@click.command("keygen")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the key to this new file (owner-only) instead of printing it.")
@click.option("--signing", is_flag=True,
              help=f"Make an Ed25519 signing key for checkpoints instead (written to --file, "
                   f"default {DEFAULT_SIGNING_KEY}, owner-only, its public key beside it as "
                   "FILE.pub).")
@user_errors
def keygen(path: Path | None, signing: bool) -> None:
    """Create a master key: base64 of 32 random bytes, for LEDGER_MASTER_KEY or a key file.

    With --signing: a checkpoint signing key, for a centre (LEDGER_SIGNING_KEY) or an EQA
    (`ledger checkpoint --countersign FILE`).
    """
    if signing:
        target = path or Path(DEFAULT_SIGNING_KEY)
        public = write_signing_key(target, new_signing_key())
        click.echo(f"Signing key written to {target} (owner-only); public key {public} "
                   f"(key id {key_id(load_public_key(public))}).")
        click.echo(f"A centre sets {SIGNING_KEY_ENV}={target}; an EQA, with a key of their "
                   f"own, countersigns with `ledger checkpoint --countersign {target}`.")
        return
    key = new_key()
    if path is None:
        click.echo(encode_key(key))
        return
    if path.exists():
        raise click.ClickException(f"{path} exists; a key file is never overwritten")
    write_key_file(path, key)
    click.echo(f"Master key written to {path}; set {MASTER_KEY_FILE_ENV}={path}")


@click.command("erase")
@click.argument("reference")
@click.option("--reason", required=True, help="Why (e.g. 'learner request 2026-11-02'); "
              "recorded in plain text, so name no personal data.")
@click.option("--centre", help="Centre number (when the reference exists at several centres).")
@user_errors
def erase(reference: str, reason: str, centre: str | None) -> None:
    """Erase learner REFERENCE's personal data for good by destroying their key.

    The history stays (dates, enrolments, statuses); names, dates of birth, postcodes,
    emails, ULNs and notes can no longer be decrypted. The erasure is an event in the audit.
    """
    app = settings().app()
    learner = app.find_learner(reference, centre)
    positions = erase_learner(app, settings().context(), reference, reason, learner.centre)
    recorded = f" (event {positions[0]})" if positions else " (erasure already recorded)"
    click.echo(f"Erased learner {reference} at {learner.centre}: key destroyed{recorded}")


@click.command("retention")
@click.option("--on", "on", default=None, help="Judge retention on this date (default today).")
@click.option("--erase", "erase_due", is_flag=True,
              help="Erase every learner listed, after asking for confirmation.")
@click.option("--yes", is_flag=True, help="With --erase: do not ask for confirmation.")
@click.option("--policies", envvar="LEDGER_POLICIES", default=None,
              help="Extra rule-set directory (default: LEDGER_POLICIES).")
@format_option("table", "json", "csv")
@user_errors
def retention(on: str | None, erase_due: bool, yes: bool, policies: str | None,
              fmt: str) -> None:
    """Learners whose records are past the retention period of their rule sets.

    A record is kept until the last enrolment ended (withdrawal or certificate issued) plus
    the rule set's `[retention] years_after_end` (default 3); open enrolments keep it all.
    """
    day = parse_date(on, "on") if on else date.today()
    if erase_due:
        check_erasure_date(day, date.today())
    app = settings().app()
    due = learners_due(app, day, load_rulebook(policies))
    emit_rows([r.as_row() for r in due], RETENTION_COLUMNS, fmt,
              title=f"Learners past retention on {day.isoformat()}",
              document={"on": day.isoformat()})
    if not erase_due or not due:
        return
    if not yes:
        click.confirm(f"Erase the personal data of {plural(len(due), 'learner')}? This cannot "
                      "be undone",
                      abort=True, err=True)
    for item in due:
        reason = f"retention period ended {item.keep_until.isoformat()}"  # type: ignore[union-attr]
        erase_learner(app, settings().context(), item.reference, reason, item.centre)
    click.echo(f"Erased {plural(len(due), 'learner')}", err=fmt == "json")


@click.command("grant")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="officer: append and read; auditor: read; eqa: read the EQA views only.")
@click.option("--password", default=None, prompt=True, prompt_required=False, hide_input=True,
              help="Set the login password (give --password alone to be asked for it).")
@click.argument("name")
@user_errors
def grant_role(role: str, password: str | None, name: str) -> None:
    """Create or update PostgreSQL login role NAME with the privileges of a ledger role."""
    settings().may_create = True  # as before: granting on a new database sets the ledger up
    click.echo(grant(settings().app().engine, role, name, password))


PRIVACY_COMMANDS = (keygen, erase, retention, grant_role)
