"""The web app's integrity pages on SQLite and PostgreSQL: the verify page's progress
(positions checked of the total) and the failing position, and the dashboard's latest
checkpoint beside the digest and the last verify."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ledger.integrity.checkpoints import append_entries, countersign, sign_checkpoint
from ledger.integrity.signing import key_id, new_signing_key, public_text
from ledger.rules.rulesets import load_rulebook
from ledger.web.routes import create_app
from ledger.web.sources import LedgerSource
from tests.integration.integrity import tampering
from tests.integration.web.held import HeldSource
from tests.integration.web.test_web_app import log_in, token, user_name


@pytest.fixture
def ledger(make_app: Any) -> Any:
    app = make_app()
    tampering.record_small_ledger(app)  # ten events
    return app


def officer(app: Any, source: LedgerSource | None = None) -> TestClient:
    web = create_app(source or LedgerSource(app), load_rulebook(), secret="test-secret")
    browser = TestClient(web, base_url="https://testserver")
    log_in(browser, user_name(app, "officer"))
    return browser


def start_verify(browser: TestClient) -> None:
    form = browser.get("/verify")
    assert browser.post("/verify", data={"csrf": token(form)}).status_code == 200


def test_the_verify_page_shows_positions_checked_of_the_total_while_it_runs(
        ledger: Any) -> None:
    source = HeldSource(ledger, page=3)
    browser = officer(ledger, source)
    start_verify(browser)
    assert source.paused.wait(30)
    status = browser.get("/verify/status").json()
    head = source.head()
    assert (status["status"], status["checked"], status["positions"]) == ("running", 3, head)
    assert status["percent"] == 3 * 100 // head
    page = browser.get("/verify").text
    assert re.search(rf'Checked <strong id="verify-checked">3</strong> of '
                     rf'<strong id="verify-positions">{head}</strong> positions', page)
    assert f'<progress id="verify-progress" aria-label="Positions checked" value="3" ' \
           f'max="{head}">' in page
    source.release.set()
    job = browser.app.state.web.verify.wait()
    assert (job.status, job.checked, job.result["ok"]) == ("done", head, True)
    assert "verified" in browser.get("/verify").text


def test_a_tampered_ledger_shows_the_position_of_the_first_event_that_does_not_fit(
        ledger: Any) -> None:
    with ledger.engine.begin() as connection:
        tampering.drop_triggers(connection)
        tampering.edit_state_byte(ledger, connection, 4)
    browser = officer(ledger)
    start_verify(browser)
    job = browser.app.state.web.verify.wait()
    assert job.result["ok"] is False and job.result["problem"]["position"] == 4
    page = browser.get("/verify").text
    assert 'tampered</span> at position <strong id="verify-failed-at">4</strong>' in page
    assert "3 events before it fit the chain" in page
    dashboard = browser.get("/").text
    assert re.search(r"tampered</span> at position <strong>4</strong> \(changed\)", dashboard)


def test_the_dashboard_says_when_there_is_no_checkpoint_yet(ledger: Any, tmp_path: Path) -> None:
    ledger.checkpoints.log = tmp_path / "centre.checkpoints"
    page = officer(ledger).get("/").text
    assert "Latest checkpoint" in page
    assert f"No checkpoint in {tmp_path / 'centre.checkpoints'} yet" in page


def test_the_dashboard_shows_the_latest_checkpoint_who_signed_it_and_its_countersignature(
        ledger: Any, tmp_path: Path) -> None:
    log = ledger.checkpoints.log = tmp_path / "centre.checkpoints"
    centre, eqa = new_signing_key(), new_signing_key()
    append_entries(log, [sign_checkpoint(ledger, centre)])
    browser = officer(ledger)
    page = browser.get("/").text
    card = page[page.index('id="checkpoint"'):page.index("Last verify")]
    centre_id = key_id(public_text(centre.public_key()))
    assert f"key <code class=\"key\">{centre_id}</code>" in card and "not countersigned" in card
    assert "Matches the ledger's chain at its position. 1 checkpoint in" in card
    ledger.enrol(tampering.CTX, "L2", "E2", awarding_body="CG", qualification="600/1234/5",
                 title="Plumbing", start="2025-09-01", planned_end="2026-07-01")
    latest = sign_checkpoint(ledger, centre)
    append_entries(log, [latest, countersign(latest, eqa)])
    card = browser.get("/").text
    card = card[card.index('id="checkpoint"'):card.index("Last verify")]
    assert f"{latest.position:,} ({latest.events:,} events)" in card
    assert f"by EQA key <code class=\"key\">{key_id(public_text(eqa.public_key()))}</code>" in card
    assert "2 checkpoints in" in card and latest.recorded_at[:16].replace("T", " ") in card


def test_the_dashboard_says_when_the_checkpoint_log_cannot_be_read(
        ledger: Any, tmp_path: Path) -> None:
    log = ledger.checkpoints.log = tmp_path / "centre.checkpoints"
    log.write_text("not json\n", encoding="utf-8")
    page = officer(ledger).get("/")
    assert page.status_code == 200
    assert "The checkpoint log cannot be read: line 1 of" in page.text
