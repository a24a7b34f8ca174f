"""The web app as `ledger serve` serves it, made in each server process.

With `--workers N`, uvicorn runs N processes of its own (spawned), each of which makes the app
by importing `served_app` (a factory) and calling it: what it needs comes through the
environment (`serving_environment`), set by `ledger serve` before the workers start. Every
process opens the ledger on its own; sessions are signed with the one secret they share, so a
login made in one is good in all; each has its own access-log writer, its own reads kept and
its own rate limit on logins (a limit per process: N times the attempts at most).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from ledger.web.views import SERVED_VIEW_WAIT

URL_ENV = "LEDGER_WEB_DB"
SECRET_ENV = "LEDGER_WEB_SECRET"
POLICIES_ENV = "LEDGER_WEB_POLICIES"
NATION_ENV = "LEDGER_WEB_NATION"
COOKIES_ENV = "LEDGER_WEB_INSECURE_COOKIES"


def serving_environment(url: str, secret: str, policies: str | None, nation: str | None,
                        insecure_cookies: bool) -> dict[str, str]:
    """What `served_app` reads, as environment variables for the server's processes."""
    found = {URL_ENV: url, SECRET_ENV: secret, COOKIES_ENV: "1" if insecure_cookies else ""}
    if policies:
        found[POLICIES_ENV] = policies
    if nation:
        found[NATION_ENV] = nation
    return found


def served_app() -> Starlette:
    """The app over the ledger named in the environment, as `ledger serve` makes it: its
    report rows kept up to date in a process of their own, views written without the page
    waiting for them."""
    from ledger.app import LedgerApp
    from ledger.rules.rulesets import load_rulebook
    from ledger.web.routes import create_app
    from ledger.web.sources import LedgerSource

    book = load_rulebook(os.environ.get(POLICIES_ENV) or None,
                         os.environ.get(NATION_ENV) or None)
    return create_app(LedgerSource(LedgerApp(os.environ[URL_ENV]), judge_apart=True), book,
                      secret=os.environ[SECRET_ENV],
                      secure_cookies=not os.environ.get(COOKIES_ENV),
                      view_wait=SERVED_VIEW_WAIT)
