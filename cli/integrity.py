"""Tamper-evidence commands: verify the chain and checkpoints, print the digest, sign a
checkpoint or countersign one, export an EQA bundle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from aggregates.errors import (
    ConfigurationError,
    EmptyLedger,
    InvalidValue,
    NotALedger,
)
from aggregates.values import parse_centre, parse_date
from cli.context import settings, user_errors
from cli.output import emit_json, folded, format_option, plural, terminal_width
from cli.progress_bar import TerminalProgress
from ledger.integrity.bundle import export_bundle, verify_bundle
from ledger.integrity.chain import Digest
from ledger.integrity.checkpoints import (
    LOG_ENV,
    LOG_SUFFIX,
    CheckpointBroken,
    append_entries,
    as_broken_checkpoint,
    check_kept_log,
    check_log,
    countersign,
    log_path,
    sign_checkpoint,
    signer_for,
)
from ledger.integrity.signing import SIGNING_KEY_ENV, load_public_key, load_signing_key
from ledger.integrity.verify import LedgerTampered, current_digest, verify_ledger
from ledger.storage.persistence import database_url

if TYPE_CHECKING:
    from ledger.app import LedgerApp

log_option = click.option(
    "--checkpoint-log", "log", envvar=LOG_ENV, default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The checkpoint log (default: {LOG_ENV}, else FILE.db{LOG_SUFFIX} beside an SQLite "
         "ledger; a PostgreSQL ledger has none unless given).")
signing_key_option = click.option(
    "--signing-key", "key", envvar=SIGNING_KEY_ENV, default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The centre's Ed25519 signing key (default: {SIGNING_KEY_ENV}).")


@click.command("verify")
@click.option("--digest", "digest_text", metavar="POSITION:HASH",
              help="Also prove the ledger (or the bundle's chain) extends the one this digest "
                   "was taken from, e.g. the digest printed on a kept report.")
@click.option("--bundle", "bundle", type=click.Path(dir_okay=False, path_type=Path),
              help="Verify an exported bundle offline instead (no database is opened).")
@click.option("--allow-empty", is_flag=True,
              help="Accept a ledger with no events (refused by default: a mistyped or emptied "
                   "database would otherwise verify).")
@click.option("--reports", "reports", is_flag=True,
              help="Also fold every learner's events again and judge them, and compare the "
                   "report tables (timelines and kept report rows) with the result: they are "
                   "derived, not chained, so a login that may write them could edit them.")
@log_option
@click.option("--trusted-key", "trusted", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The centre's public key file (FILE.pub): checkpoints must be signed with "
                   "it (default: the key of the log's first checkpoint, or of "
                   f"{SIGNING_KEY_ENV}). Repeatable.")
@click.option("--witness-key", "witnesses", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An EQA's public key file: some checkpoint must be countersigned with it. "
                   "Repeatable.")
@user_errors
def verify(digest_text: str | None, bundle: Path | None, allow_empty: bool, reports: bool,
           log: Path | None, trusted: tuple[Path, ...], witnesses: tuple[Path, ...]) -> None:
    """Re-read every event and check the hash chain, then every signed checkpoint in the
    checkpoint log; exit 1 naming the first bad event or the first checkpoint that fails.
    With --reports, also check the report tables against the events."""
    digest = Digest.parse(digest_text) if digest_text else None
    centre_keys = [load_public_key(path) for path in trusted]
    if bundle is not None:
        summary = verify_bundle(bundle, digest, centre_keys)
        click.echo(f"Bundle verified: {plural(summary.events, 'event')} of centre "
                   f"{summary.centre} in {plural(summary.entries, 'chain entry', 'chain entries')}"
                   f", {plural(len(summary.rule_sets), 'rule set')}.")
        click.echo(f"Digest: {summary.digest}")
        if digest is not None:
            click.echo(f"Extends digest {digest}: nothing up to position {digest.position} "
                       "was changed.")
        if summary.checkpoint is not None:
            click.echo(f"Checkpoint: signed at {summary.checkpoint.describe()}: the signature "
                       f"holds; {summary.checkpoint_note}.")
        return
    current = settings()
    path = log_path(database_url(current.db), log)
    try:
        app = current.app()
    except NotALedger as error:
        raise as_broken_checkpoint(error, path) from None
    with TerminalProgress(unit="events") as progress:
        result = verify_ledger(app, digest, progress=progress)
    if result.problem is not None:
        raise LedgerTampered(result.problem)
    configured = app.checkpoints.key_path
    if not centre_keys and configured is not None:
        centre_keys = [load_public_key(configured)]
    named = click.get_current_context().get_parameter_source("log") is ParameterSource.COMMANDLINE
    checked = check_kept_log(app, path, named, centre_keys,
                             [load_public_key(p) for p in witnesses])
    if result.events == 0 and not allow_empty:
        raise EmptyLedger("the ledger holds no events: nothing to verify "
                          "(give --allow-empty to accept an empty ledger)")
    click.echo(f"Verified {plural(result.events, 'event')}.")
    click.echo(f"Digest: {result.head}")
    if result.extends is not None:
        click.echo(f"Extends digest {result.extends}: nothing up to position "
                   f"{result.extends.position} was changed.")
    if checked is not None:
        click.echo(checked.summary())
    if reports:
        check_reports(app)


def say(text: str) -> None:
    """A line of verify's report on the tables, folded to the terminal."""
    click.echo(folded(text, terminal_width()))


def check_reports(app: LedgerApp) -> None:
    """`verify --reports`: the report tables against the events, or exit 1 naming who differs."""
    from ledger.reporting.table_check import ReportTablesDiffer, check_report_tables
    from ledger.rules.rulesets import default_rulebook

    with TerminalProgress(unit="learners") as progress:
        check = check_report_tables(app, default_rulebook(), progress)
    if not check.built:
        say("Report tables: none built yet (the first report builds them from the "
                   "events): nothing to compare.")
        return
    if not check.ok:
        shown = ", ".join(f"{m.reference or m.learner_id} "
                          f"({m.table.removeprefix('ledger_report_')})"
                          for m in check.shown[:3])
        raise ReportTablesDiffer(
            f"the report tables differ from the events in {plural(check.mismatches, 'place')}: "
            f"{shown}{', ...' if check.mismatches > 3 else ''}; `ledger rebuild` recomputes "
            "them from the events.")
    say(f"Report tables: {plural(check.timelines, 'timeline')} match the events up to "
               f"position {check.position:,}.")
    if check.rows_position is None:
        say("Kept report rows: none judged yet.")
    elif check.other_rulebook:
        say("Kept report rows: judged with another rule book (--policies, --nation or "
                   "edited TOML), not compared; the next report judges them again.")
    else:
        waiting = (f"; {plural(check.not_yet_judged, 'learner')} changed since, judged by "
                   "the next report" if check.not_yet_judged else "")
        say(f"Kept report rows: {plural(check.judged, 'learner')}' rows match their "
                   f"judgement{waiting}.")


@click.command("checkpoint")
@log_option
@signing_key_option
@click.option("--countersign", "witness_key", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="As an EQA: countersign the log's latest checkpoint with this signing key "
                   "(yours, from `ledger keygen --signing`) once the ledger verifies against "
                   "the whole log.")
@click.option("--trusted-key", "trusted", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --countersign: the centre's public key file; every checkpoint in the "
                   "log must be signed with it (default: the key of the log's first one).")
@click.option("--keep", "keep", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="With --countersign: also append the checkpoint and your countersignature "
                   "to this file of your own (check it later with `ledger verify "
                   "--checkpoint-log FILE`).")
@user_errors
def checkpoint(log: Path | None, key: Path | None, witness_key: Path | None,
               trusted: Path | None, keep: Path | None) -> None:
    """Sign the chain's head (position, hash, recorded time, ledger id) and append it to the
    checkpoint log, after verifying the ledger against the chain and the log so far."""
    current = settings()
    path = log_path(database_url(current.db), log)
    if path is None:
        raise ConfigurationError(f"a PostgreSQL ledger has no default checkpoint log: give "
                                 f"--checkpoint-log FILE or set {LOG_ENV}")
    app = current.app()
    result = verify_ledger(app)
    if result.problem is not None:
        raise LedgerTampered(result.problem)
    centre_key = trusted if witness_key is not None else key
    centre_keys = [load_public_key(centre_key)] if centre_key is not None else []
    checked = check_log(app, path, centre_keys)
    if witness_key is not None:
        latest = checked.latest
        if latest is None:
            raise CheckpointBroken(f"no checkpoint in {path} to countersign")
        signature = countersign(latest, load_signing_key(witness_key))
        append_entries(path, [signature])
        if keep is not None:
            append_entries(keep, [latest, signature])
        kept = f" and {keep}" if keep is not None else ""
        click.echo(f"Countersigned the checkpoint at {latest.describe()} with key "
                   f"{signature.key_id}; appended to {path}{kept}.")
        return
    if key is None:
        raise ConfigurationError(f"no signing key: give --signing-key FILE or set "
                                 f"{SIGNING_KEY_ENV} (`ledger keygen --signing` makes one)")
    if result.events == 0:
        raise EmptyLedger("the ledger holds no events: there is no head to sign")
    signed = sign_checkpoint(app, load_signing_key(key), result.head)
    append_entries(path, [signed])
    click.echo(f"Checkpoint appended to {path}: {signed.describe()}.")
    click.echo(f"Digest: {signed.digest}  Ledger id: {signed.ledger_id}")


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
@log_option
@signing_key_option
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@user_errors
def export(centre: str, start: str | None, end: str | None, policies: Path | None,
           log: Path | None, key: Path | None, out: Path) -> None:
    """Write a bundle for an EQA: a centre's events with the hash chain and the rule sets."""
    first = parse_date(start, "from") if start else None
    last = parse_date(end, "to") if end else None
    if first is not None and last is not None and last < first:
        raise InvalidValue("to", f"{last.isoformat()} is before --from {first.isoformat()}")
    app = settings().app()
    path = log_path(app.url, log)
    with TerminalProgress(unit="events") as progress:
        summary = export_bundle(app, parse_centre(centre), out, first, last,
                                extra_policies=policies, checkpoint_for=signer_for(key, path),
                                progress=progress)
    click.echo(f"Exported {plural(summary.events, 'event')} of centre {summary.centre} to "
               f"{out} ({plural(summary.entries, 'chain entry', 'chain entries')}, "
               f"{plural(len(summary.rule_sets), 'rule set')}).")
    click.echo(f"Digest: {summary.digest}")
    if summary.checkpoint is not None:
        click.echo(f"Checkpoint: {summary.checkpoint.describe()}.")


COMMANDS = (verify, digest, export, checkpoint)
