"""Report pages rendered once per what they show (`routes.RenderedPages`) on SQLite and
PostgreSQL: each user still gets their own name and CSRF token, and a page is rendered again
when what it shows changes."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.web.test_web_app import client, ledger, log_in, token, user_name

__all__ = ["ledger"]  # the fixture, used below


def test_a_page_rendered_once_carries_each_users_own_name_and_token(ledger: Any) -> None:
    first, second = client(ledger), client(ledger)
    names = []
    for browser, role in ((first, "officer"), (second, "auditor")):
        name = user_name(ledger, role)
        log_in(browser, name)
        names.append(name)
    pages = [browser.get(path) for path in ("/", "/late") for browser in (first, second)]
    assert all(page.status_code == 200 for page in pages)
    for index, page in enumerate(pages):  # first's, second's, first's, second's
        name, other = names[index % 2], names[1 - index % 2]
        assert name in page.text and other not in page.text
    assert token(pages[0]) != token(pages[1])  # each session its own
    kept = first.app.state.web.pages._kept  # type: ignore[attr-defined]
    assert 1 <= len(kept) <= 4 and not any(name in html for html in kept.values()
                                           for name in names)


def test_the_same_page_for_the_same_role_is_rendered_once(ledger: Any) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "officer"))
    for _ in range(3):
        assert browser.get("/late").status_code == 200
        assert browser.get("/").status_code == 200
    kept = browser.app.state.web.pages._kept  # type: ignore[attr-defined]
    assert len(kept) == 2
    browser.get("/late?status=late")
    assert len(kept) == 3


def test_a_page_is_rendered_again_when_the_verify_result_it_shows_changes(ledger: Any) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "officer"))
    before = browser.get("/").text
    web = browser.app.state.web  # type: ignore[attr-defined]
    web.verify.start()
    web.verify.wait()
    after = browser.get("/").text
    assert re.search(r"Not run since the server started", before)
    assert "Not run since the server started" not in after
