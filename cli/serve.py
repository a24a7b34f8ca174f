"""Web commands: `ledger serve` (the read-only web app) and `ledger user add` (its logins)."""

from __future__ import annotations

import os
import secrets
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

import click

from cli.context import settings, user_errors
from cli.importing import DEMO_DB
from ledger.privacy.roles import ROLES

SECRET_ENV = "LEDGER_WEB_SECRET"


@click.group("user")
def user_group() -> None:
    """Web app users (SQLite ledgers; on PostgreSQL use `ledger grant`)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="officer and auditor see personal data; eqa never does.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given; at least 10 characters).")
@user_errors
def user_add(name: str, role: str, password: str) -> None:
    """Add web user NAME (or change their role and password); passwords hashed with argon2."""
    from ledger.web.users import add_user

    click.echo(add_user(settings().app().engine, name, role, password))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Browse an EQA export bundle (verified first; no database).")
@click.option("--demo", is_flag=True,
              help=f"Serve the demo ledger ({DEMO_DB}, built if missing) with demo logins, "
                   "and open it in the browser.")
@click.option("--policies", envvar="LEDGER_POLICIES", default=None,
              help="Extra rule-set directory (default: LEDGER_POLICIES).")
@click.option("--nation", envvar="LEDGER_NATION", default=None,
              help="Nation for bank holidays of centres not in centres.toml.")
@click.option("--insecure-cookies", is_flag=True,
              help="Send the session cookie over plain HTTP to hosts other than this machine "
                   "(only behind a TLS-terminating proxy that rewrites it).")
@click.option("--open/--no-open", "open_browser", default=None,
              help="Open the app in the browser (default: only with --demo).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (a ledger's pages; a bundle is served by one). Logins "
                   "work across them: they share the session secret (LEDGER_WEB_SECRET, "
                   "else one made for this run).")
@user_errors
def serve(host: str, port: int, bundle: Path | None, demo: bool, policies: str | None,
          nation: str | None, insecure_cookies: bool, open_browser: bool | None,
          workers: int) -> None:
    """Serve the read-only web app over the ledger (or over an EQA bundle)."""
    import uvicorn

    from aggregates.errors import LedgerError
    from ledger.rules.rulesets import load_rulebook
    from ledger.web.routes import bundle_failure_app, create_app
    from ledger.web.served import served_app, serving_environment
    from ledger.web.sources import BundleSource

    load_rulebook(policies, nation)  # its errors before anything is served
    secret = os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32)
    app: Any = None
    if bundle is not None:
        try:
            opened = BundleSource(bundle)
            app = create_app(opened, opened.rulebook(nation), secret=secret,
                             secure_cookies=not insecure_cookies)
            click.echo(f"Bundle {bundle} verified.")
        except LedgerError as error:
            click.echo(f"Error: the bundle failed to verify: {error}", err=True)
            app = bundle_failure_app(str(error))
    else:
        if demo:
            _prepare_demo()
        current = settings()
        current.app()  # a ledger, or the error that it is not one
        os.environ.update(serving_environment(current.url(), secret, policies, nation,
                                              insecure_cookies))
        if workers == 1:
            app = served_app()
    url = f"http://{host}:{port}/"
    click.echo(f"Serving {url} (Ctrl+C to stop)"
               + (f" with {workers} server processes" if app is None else ""))
    if open_browser or (open_browser is None and demo):
        webbrowser.open(url)
    if app is None:  # each worker makes the app (ledger/web/served.py)
        uvicorn.run("ledger.web.served:served_app", factory=True, workers=workers, host=host,
                    port=port, log_level="info", server_header=False)
    else:
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _prepare_demo() -> None:
    """The demo ledger (built with 300 learners if missing) and its three demo logins."""
    from cli.importing import run_import
    from ledger.demo import write_demo_files
    from ledger.imports import ImportOptions
    from ledger.web.users import add_user

    current = settings()
    root = click.get_current_context().find_root()
    if current.db is None or root.get_parameter_source("db") is not (
            click.core.ParameterSource.COMMANDLINE):
        current.db = DEMO_DB
    path = Path(current.db.removeprefix("sqlite:///")) if current.db.startswith(
        "sqlite:///") else None
    if path is not None and not path.exists():
        click.echo(f"Building the demo ledger in {path} (300 learners)…")
        with tempfile.TemporaryDirectory() as folder:
            export = Path(folder) / "demo-centre.csv"
            results = export.with_name("demo-centre-lrs-results.csv")
            write_demo_files(export, results, 300, 2026)
            for source in (export, results):
                run_import(source, ImportOptions(actor=current.actor))
    password = secrets.token_urlsafe(12)
    engine = current.app().engine
    for role in ("officer", "eqa", "auditor"):
        add_user(engine, f"demo-{role}", role, password)
    click.echo("Demo logins: demo-officer, demo-eqa, demo-auditor")
    click.echo(f"Password: {password} (a new one each time the demo starts)")
