"""Browser fixtures: the demo ledger served by uvicorn, driven by the system's Chromium.

Skipped when Chromium or Playwright is missing, unless LEDGER_REQUIRE_BROWSER=1 (as in CI),
which makes that a failure. Playwright only drives Debian's /usr/bin/chromium: no browser is
ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PASSWORD = "browser-test-password"
DEMO_LEARNERS = 40
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def browser_required() -> bool:
    return os.environ.get("LEDGER_REQUIRE_BROWSER", "") not in ("", "0", "no", "false")


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure when LEDGER_REQUIRE_BROWSER=1)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    problem = None
    if found is None:
        problem = "no chromium on PATH (apt-get install chromium chromium-driver)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed"
    if problem is not None:
        if browser_required():
            pytest.fail(f"LEDGER_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    return str(found)


def run_ledger(db: str, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--db", db, "--actor", "browser-test", *args],
                                input=input, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.output


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo ledger (small), its logins, its learners' names, and two bundles."""
    os.environ.setdefault("LEDGER_MASTER_KEY", "dGVzdC1tYXN0ZXIta2V5LW5vdC1mb3ItcHJvZC11c2U=")
    folder = tmp_path_factory.mktemp("browser-demo")
    db = f"sqlite:///{folder / 'demo.db'}"
    csv_path = folder / "demo.csv"
    run_ledger(db, "demo", "--learners", str(DEMO_LEARNERS), "--csv", str(csv_path))
    for role in ("officer", "eqa", "auditor"):
        run_ledger(db, "user", "add", f"web-{role}", "--role", role, "--password", PASSWORD)
    header, *lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    columns = header.split(",")
    names: dict[str, tuple[str, str]] = {}
    centre = None
    for line in lines:
        values = dict(zip(columns, line.split(","), strict=False))
        names[values["learner"]] = (values["given_name"], values["family_name"])
        centre = centre or values.get("centre")
    centre_key, eqa_key = folder / "centre.pem", folder / "eqa.pem"
    for key in (centre_key, eqa_key):
        run_ledger(db, "keygen", "--signing", "--file", str(key))
    run_ledger(db, "checkpoint", "--signing-key", str(centre_key))  # beside demo.db
    run_ledger(db, "checkpoint", "--countersign", str(eqa_key))
    bundle = folder / "centre.bundle"
    run_ledger(db, "export", "--centre", str(centre), str(bundle))
    tampered = folder / "tampered.bundle"
    text = bundle.read_text(encoding="utf-8")
    edited = text.replace('reference\\":\\"L', 'reference\\":\\"X', 1)
    assert edited != text
    tampered.write_text(edited, encoding="utf-8")
    return {"db": db, "names": names, "centre": centre,
            "bundle": bundle, "tampered": tampered, "folder": folder}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A uvicorn server in a thread, serving one ASGI app on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def server(demo: dict[str, Any]) -> Iterator[Served]:
    from ledger.app import LedgerApp
    from ledger.rules.rulesets import load_rulebook
    from ledger.web.routes import create_app
    from ledger.web.sources import LedgerSource

    app = LedgerApp(demo["db"])
    with Served(create_app(LedgerSource(app), load_rulebook())) as served:
        yield served
    app.close()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium with a fresh profile, for the whole session."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            accept_downloads=True, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    browser_context.clear_cookies()
    tab = browser_context.new_page()
    yield tab
    tab.close()


@pytest.fixture
def login(page: Any, server: Served) -> Callable[[str], Any]:
    """Log the page in as the demo's user of a role; returns the page on the dashboard."""

    return lambda role: log_in(page, server, role)


def log_in(page: Any, served: Served, role: str) -> Any:
    """Log the page in to a served app as the demo's user of a role (on the dashboard)."""
    page.goto(f"{served.url}/login")
    page.fill("#name", f"web-{role}")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/")
    return page


def screenshot(page: Any, name: str) -> None:
    """Keep full-page screenshots under test-artifacts/ to look at: at 1280 px wide, and at
    a narrow 800 px (`NAME-800.png`)."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 800, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"{name}-800.png"), full_page=True)
    page.set_viewport_size(size)
