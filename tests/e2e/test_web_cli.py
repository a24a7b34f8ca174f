"""The web commands and the HTML reports as a user runs them: `ledger user add`, `ledger
report ... --format html --output FILE`, `ledger serve --help`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_report_cli import Ledger

DOB = "2004-05-06"


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    run = Ledger(db_url)
    run("learner", "add", "L1", "--centre", "C1", "--given-name", "Siân", "--family-name",
        "Quillfeather", "--dob", DOB, "--gender", "2", "--postcode", "SW1A 1AA")
    run("enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
        "--title", "Diploma", "--start", "2026-04-01", "--planned-end", "2027-01-29")
    run("register", "L1", "E1", "--submitted", "2026-08-14")
    return run


def no_external_requests(html: str) -> None:
    assert "<script" not in html and "<link" not in html and " src=" not in html
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"] * len(
        re.findall(r"https?://[^\s\"'<>]+", html))


def test_the_late_registration_report_is_one_self_contained_page(
        ledger: Ledger, tmp_path: Path) -> None:
    out = tmp_path / "late.html"
    result = ledger("report", "late-registrations", "--on", "2026-11-02", "--centre", "C1",
                    "--format", "html", "--output", str(out))
    digest = re.search(r"Ledger digest: (\S+)", result.stderr).group(1)
    html = out.read_text(encoding="utf-8")
    no_external_requests(html)
    assert "<style>" in html and "@page { size: A4" in html and "<svg" in html
    for heading in ("Centre</dt><dd>C1", "Judged on</dt><dd>2026-11-02", digest,
                    '<span class="n">1</span> major', '<span class="n">1</span> late'):
        assert heading in html
    assert result.stdout == ""


def test_the_findings_report_in_html_names_rule_version_and_clause(
        ledger: Ledger, tmp_path: Path) -> None:
    out = tmp_path / "findings.html"
    ledger("report", "maladministration", "--on", "2026-11-02", "--format", "html",
           "--output", str(out))
    html = out.read_text(encoding="utf-8")
    no_external_requests(html)
    row = re.search(r"<tr class=\"sv-major\">(.*?)</tr>", html, re.S).group(1)
    assert "IMI" in row and "issue-10" in row and "late-registration" in row


def test_redact_masks_dates_of_birth_and_postcodes_in_the_html_audit(
        ledger: Ledger, tmp_path: Path) -> None:
    plain, masked = tmp_path / "audit.html", tmp_path / "redacted.html"
    ledger("report", "audit", "--centre", "C1", "--format", "html", "--output", str(plain))
    ledger("report", "audit", "--centre", "C1", "--format", "html", "--output", str(masked),
           "--redact")
    assert DOB in plain.read_text(encoding="utf-8")
    text = masked.read_text(encoding="utf-8")
    assert DOB not in text and "SW1A 1AA" not in text and "[redacted]" in text
    assert "Dates of birth, postcodes and emails are redacted" in text


def test_a_bad_option_writes_no_file(ledger: Ledger, tmp_path: Path) -> None:
    out = tmp_path / "late.html"
    result = ledger("report", "late-registrations", "--on", "2026-02-30", "--format", "html",
                    "--output", str(out), code=1)
    assert result.stderr.startswith("Error: on:") and "Traceback" not in result.output
    assert not out.exists()


def test_user_add_hashes_the_password_and_refuses_short_ones(ledger: Ledger,
                                                              db_url: str) -> None:
    if db_url.startswith("postgresql"):
        result = ledger("user", "add", "ann", "--role", "eqa", "--password",
                        "long-enough-pw", code=1)
        assert "ledger grant" in result.stderr
        return
    assert ledger("user", "add", "ann", "--role", "eqa", "--password",
                  "long-enough-pw").stdout == "Web user ann added: role eqa\n"
    assert ledger("user", "add", "ann", "--role", "officer", "--password",
                  "another-long-pw").stdout == "Web user ann updated: role officer\n"
    short = ledger("user", "add", "bob", "--role", "eqa", "--password", "short", code=1)
    assert short.stderr == "Error: password: use at least 10 characters\n"
    bad = ledger("user", "add", "Bob Smith", "--role", "eqa", "--password", "x" * 12, code=1)
    assert bad.stderr.startswith("Error: name:")
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT password_hash FROM ledger_web_users WHERE name = 'ann'")).scalar()
    engine.dispose()
    assert stored.startswith("$argon2id$") and "another-long-pw" not in stored


def test_serve_has_help_naming_its_options(ledger: Any) -> None:
    text = ledger("serve", "--help").stdout
    for option in ("--host", "--port", "--bundle", "--demo"):
        assert option in text


def test_serve_with_workers_serves_a_login_from_every_process(ledger: Ledger, db_url: str,
                                                              tmp_path: Path) -> None:
    """`ledger serve --workers 2`: two server processes on one port, a login made in one
    good in the other (they share the session secret), the pages served by both."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.browser.conftest import free_port

    if db_url.startswith("postgresql"):
        pytest.skip("web users on PostgreSQL are database logins (tests/integration/web)")
    ledger("user", "add", "ann", "--role", "officer", "--password", "long-enough-pw")
    port = free_port()
    environment = {**os.environ, "LEDGER_WEB_SECRET": "shared-by-the-workers"}
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", db_url, "serve", "--port", str(port),
         "--workers", "2", "--insecure-cookies", "--no-open"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/login", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        workers = subprocess.run(["ps", "--ppid", str(server.pid), "-o", "cmd="],
                                 capture_output=True, text=True).stdout
        assert workers.count("multiprocessing") >= 2, workers  # uvicorn's spawned workers
        with httpx.Client(base_url=base, timeout=60) as client:
            form = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            client.post("/login", data={"csrf": token, "name": "ann",
                                        "password": "long-enough-pw"})
            # new connections, so that both processes take some of them
            for path in ["/", "/late", "/learners/L1"] * 4:
                client.headers["connection"] = "close"
                page = client.get(path)
                assert page.status_code == 200 and "ann" in page.text, path
    finally:
        server.terminate()
        output = server.communicate(timeout=60)[0]
    assert "with 2 server processes" in output
