"""The web app in headless Chromium against the demo ledger: roles, evidence, as-at, downloads,
bundles, accessibility and bad input; a screenshot of every main page in test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Served, log_in, screenshot

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
MAIN_PAGES = ("/", "/late", "/findings", "/learners/L00002", "/learners/L00002/replay",
              "/verify")


def no_traceback(page: Any) -> None:
    html = page.content()
    assert "Traceback" not in html and 'File "' not in html


def all_names(demo: dict[str, Any]) -> set[str]:
    return {name for pair in demo["names"].values() for name in pair if len(name) > 2}


def test_an_officer_sees_a_learners_names_and_the_view_is_in_their_audit_trail(
        login: Any, server: Served, demo: dict[str, Any]) -> None:
    page = login("officer")
    screenshot(page, "officer-dashboard")
    page.goto(f"{server.url}/learners/L00002")
    given, family = demo["names"]["L00002"]
    assert given in page.content() and family in page.content()
    screenshot(page, "officer-learner")
    page.reload()
    viewed = page.locator(".ev-row.viewed")
    assert viewed.count() >= 1
    assert "web-officer" in viewed.last.inner_text()
    no_traceback(page)


def test_an_auditor_sees_personal_data_too(login: Any, server: Served,
                                           demo: dict[str, Any]) -> None:
    page = login("auditor")
    page.goto(f"{server.url}/learners/L00003")
    assert demo["names"]["L00003"][1] in page.content()
    assert page.locator(".role-auditor").inner_text() == "AUDITOR"


def test_eqa_pages_contain_none_of_the_demo_learners_names(
        login: Any, server: Served, demo: dict[str, Any]) -> None:
    page = login("eqa")
    names = all_names(demo)
    references = sorted(demo["names"])[:8]
    paths = [*MAIN_PAGES, "/late?status=late", *(f"/learners/{r}" for r in references),
             *(f"/learners/{r}/replay" for r in references[:3])]
    for path in paths:
        page.goto(f"{server.url}{path}")
        html = page.content()
        shown = sorted(name for name in names if re.search(rf"\b{re.escape(name)}\b", html))
        assert not shown, f"{path} shows {shown}"
        no_traceback(page)
    page.goto(f"{server.url}/learners/L00002")
    assert page.locator("dt", has_text="age band").count() == 1
    screenshot(page, "eqa-learner")


def test_a_late_registration_links_to_its_evidence_events(login: Any, server: Served) -> None:
    page = login("officer")
    page.goto(f"{server.url}/late?status=late")
    screenshot(page, "officer-late")
    link = page.locator("a.ev").first
    target = link.get_attribute("href")
    assert target is not None and "#event-" in target
    link.click()
    page.wait_for_url(re.compile(r"/learners/"))
    anchor = target.split("#", 1)[1]
    assert page.locator(f"#{anchor}").is_visible()
    no_traceback(page)


def test_findings_name_rule_version_and_clause(login: Any, server: Served) -> None:
    page = login("officer")
    page.goto(f"{server.url}/findings")
    screenshot(page, "officer-findings")
    first = page.locator("li.finding").first
    assert re.search(r"(IMI|AIM) \S+, clause \S+", first.inner_text())
    assert page.locator("li.finding a.ev").count() >= 1


def test_as_at_shows_what_the_ledger_knew_then(login: Any, server: Served) -> None:
    page = login("officer")
    page.goto(f"{server.url}/learners/L00002")
    now_rows = page.locator(".ev-row").count()
    first = str(page.locator(".ev-row .rec time").first.get_attribute("datetime"))
    page.fill("input[name=as_at]", first)
    page.click("form[aria-label='As at'] button")
    page.wait_for_url(re.compile(r"as_at="))
    then_rows = page.locator(".ev-row").count()
    assert 1 <= then_rows < now_rows
    page.fill("input[name=as_at]", "2000-01-01")
    page.click("form[aria-label='As at'] button")
    assert "Nothing was recorded" in page.content()


def test_the_replay_steps_event_by_event(login: Any, server: Served) -> None:
    page = login("officer")
    page.goto(f"{server.url}/learners/L00002/replay?step=1")
    assert "Step 1 of" in page.content()
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"step=2"))
    assert "Step 2 of" in page.content()
    screenshot(page, "officer-replay")


def test_the_csv_download_carries_the_judged_on_date_and_the_digest(
        login: Any, server: Served) -> None:
    page = login("officer")
    page.goto(f"{server.url}/late?on=2026-11-30")
    shown = str(page.locator(".digest code").first.get_attribute("title")).rsplit(" ", 1)[1]
    with page.expect_download() as info:
        page.click("a[href^='/late.csv']")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    first, second, header = text.splitlines()[:3]
    assert first.startswith("# Late registrations judged on 2026-11-30")
    assert re.fullmatch(rf"# Ledger digest: {re.escape(shown)} \(check with .*\)", second)
    assert header.startswith("learner,enrolment,awarding_body")


def test_verify_runs_in_the_background_and_shows_its_result(login: Any, server: Served) -> None:
    page = login("officer")
    page.goto(f"{server.url}/verify")
    page.click("form[action='/verify'] button")
    page.wait_for_selector(".result.ok", timeout=30_000)
    assert "verified" in page.locator(".result").inner_text()
    screenshot(page, "officer-verify")


def test_verify_shows_positions_checked_of_the_total_while_it_runs(
        page: Any, demo: dict[str, Any]) -> None:
    from ledger.app import LedgerApp
    from ledger.rules.rulesets import load_rulebook
    from ledger.web.routes import create_app
    from tests.integration.web.held import HeldSource

    app = LedgerApp(demo["db"])
    source = HeldSource(app, page=25)
    try:
        with Served(create_app(source, load_rulebook(), secure_cookies=False)) as served:
            log_in(page, served, "officer")
            page.goto(f"{served.url}/verify")
            page.click("form[action='/verify'] button")
            assert source.paused.wait(30)
            head = source.head()
            status = page.locator("#verify-status")
            status.wait_for()
            # the page polls the job: it shows the first page of positions checked
            page.wait_for_function(
                "() => document.getElementById('verify-checked').textContent === '25'",
                timeout=10_000)
            assert re.fullmatch(rf"Checked 25 of {head:,} positions \({25 * 100 // head}%\) "
                                r"in [\d.]+ s", status.inner_text())
            assert page.locator("#verify-progress").get_attribute("value") == "25"
            screenshot(page, "officer-verify-running")
            assert serious_violations(page) == []
            source.release.set()
            page.wait_for_selector(".result.ok", timeout=30_000)
            assert f"up to position {head:,}, in" in page.locator("#verify").inner_text()
    finally:
        source.release.set()
        app.close()


def test_the_dashboard_shows_the_latest_checkpoint_beside_the_digest_and_the_last_verify(
        login: Any, server: Served) -> None:
    page = login("eqa")
    card = page.locator("#checkpoint")
    text = card.inner_text()
    assert "Latest checkpoint" in text and "countersigned" in text
    assert re.search(r"position\s+[\d,]+ \([\d,]+ events\)", text)
    assert re.search(r"signed by\s+key \S+", text)
    assert card.locator(".badge.ok").inner_text() == "yes"  # countersigned by the EQA
    assert "Matches the ledger's chain at its position" in text
    assert page.locator("h2", has_text="Ledger digest").is_visible()
    assert page.locator("h2", has_text="Last verify").is_visible()
    screenshot(page, "eqa-dashboard")


def test_an_unknown_learner_is_a_404_and_a_malformed_date_a_400(
        login: Any, server: Served) -> None:
    page = login("officer")
    response = page.goto(f"{server.url}/learners/L99999")
    assert response is not None and response.status == 404
    assert "no learner" in page.content()
    response = page.goto(f"{server.url}/late?on=2026-02-30")
    assert response is not None and response.status == 400
    assert "is not a real date" in page.content()
    response = page.goto(f"{server.url}/learners/L00002?as_at=yesterday")
    assert response is not None and response.status == 400
    no_traceback(page)
    screenshot(page, "bad-date")


def test_pages_need_a_login(page: Any, server: Served) -> None:
    page.goto(f"{server.url}/late")
    assert page.url.endswith("/login")
    screenshot(page, "login")
    page.fill("#name", "web-officer")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert "do not match" in page.content()


@pytest.mark.parametrize("role", ["officer", "eqa"])
def test_main_pages_have_no_serious_accessibility_violations(
        login: Any, server: Served, role: str) -> None:
    page = login(role)
    source = AXE.read_text(encoding="utf-8")
    for path in (*MAIN_PAGES, "/login"):
        page.goto(f"{server.url}{path}")
        found = serious_violations(page, source)
        assert found == [], f"{path}: {found}"


def serious_violations(page: Any, source: str | None = None) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(source or AXE.read_text(encoding="utf-8"))
    return list(page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"))


def test_a_bundle_is_browsable_without_a_login_or_personal_data(
        page: Any, demo: dict[str, Any]) -> None:
    from ledger.web.routes import create_app
    from ledger.web.sources import BundleSource

    bundle = BundleSource(demo["bundle"])
    assert sorted(bundle.rule_sets) == ["aim.toml", "gateway.toml", "imi.toml", "ledger.toml"]
    with Served(create_app(bundle, bundle.rulebook())) as served:
        page.goto(f"{served.url}/")
        assert "bundle centre.bundle" in page.content()
        assert "verified" in page.locator("h2:has-text('Last verify') + p").inner_text()
        screenshot(page, "bundle-dashboard")
        page.goto(f"{served.url}/late")
        assert page.locator("table.rows tbody tr").count() >= 1
        page.goto(f"{served.url}/learners/L00002")
        html = page.content()
        assert "withheld" in html
        assert not any(re.search(rf"\b{re.escape(n)}\b", html) for n in all_names(demo))
        screenshot(page, "bundle-learner")


def test_a_tampered_bundle_shows_the_verify_failure_and_nothing_else(
        page: Any, demo: dict[str, Any]) -> None:
    from aggregates.errors import LedgerError
    from ledger.web.routes import bundle_failure_app
    from ledger.web.sources import BundleSource

    with pytest.raises(LedgerError) as failure:
        BundleSource(demo["tampered"])
    with Served(bundle_failure_app(str(failure.value))) as served:
        for path in ("/", "/late", "/learners/L00002"):
            response = page.goto(f"{served.url}{path}")
            assert response is not None and response.status == 422
            assert "failed to verify" in page.content()
            assert page.locator("nav, table, .finding").count() == 0
        screenshot(page, "bundle-tampered")
