"""The web app on SQLite and PostgreSQL (Starlette's test client, no browser): logins, roles,
the access log, CSRF, the rate limit, the security headers, and bad input."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from aggregates.errors import ConfigurationError
from aggregates.learner import Context
from ledger.privacy.roles import grant
from ledger.rules.rulesets import load_rulebook
from ledger.web.routes import create_app
from ledger.web.sources import LedgerSource
from ledger.web.users import add_user
from tests.conftest import TEST_SCHEMA

CTX = Context(actor="officer", source="test")
PASSWORD = "a-long-enough-password"
GIVEN, FAMILY, DOB = "Siân", "Quillfeather", "2004-05-06"


@pytest.fixture
def ledger(make_app: Any) -> Any:
    app = make_app()
    app.add_learner(CTX, "C1", "L1", given_name=GIVEN, family_name=FAMILY,
                    date_of_birth=DOB, gender="2", postcode="SW1A 1AA",
                    email="sian.q@example.org", uln="1000000043")
    app.enrol(CTX, "L1", "E1", awarding_body="IMI", qualification="603/1234/5",
              title="Diploma", start="2026-04-01", planned_end="2027-01-29")
    app.register(CTX, "L1", "E1", submitted="2026-08-14")
    return app


def user_name(app: Any, role: str) -> str:
    """A login of that role: an argon2 user on SQLite, a database login on PostgreSQL."""
    if app.engine.dialect.name == "sqlite":
        add_user(app.engine, f"web-{role}", role, PASSWORD)
        return f"web-{role}"
    name = f"{TEST_SCHEMA}_web_{role}"
    grant(app.engine, role, name, PASSWORD)
    return name


def client(app: Any) -> TestClient:
    web = create_app(LedgerSource(app), load_rulebook(), secret="test-secret")
    return TestClient(web, base_url="https://testserver")


def token(page: Any) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def log_in(browser: TestClient, name: str, password: str = PASSWORD) -> Any:
    form = browser.get("/login")
    return browser.post("/login", data={"csrf": token(form), "name": name,
                                        "password": password})


def events_named(app: Any, name: str) -> list[Any]:
    return [e for _, e in app.learner_history("L1")[1] if type(e).__name__ == name]


def written(browser: TestClient) -> None:
    """Wait until the views the pages handed to the access log's writer are written."""
    browser.app.state.web.views.flush(60)  # type: ignore[attr-defined]


def test_pages_redirect_to_the_login_until_logged_in(ledger: Any) -> None:
    browser = client(ledger)
    for path in ("/", "/late", "/findings", "/learners/L1", "/verify", "/late.csv"):
        response = browser.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"


def test_an_officer_sees_personal_data_and_each_view_is_one_event(ledger: Any) -> None:
    browser = client(ledger)
    assert log_in(browser, user_name(ledger, "officer")).url.path == "/"
    page = browser.get("/learners/L1")
    assert page.status_code == 200 and FAMILY in page.text and DOB in page.text
    written(browser)
    views = events_named(ledger, "PersonalDataViewed")
    assert len(views) == 1
    assert (views[0].actor, views[0].role, views[0].page, views[0].source) == (
        user_name(ledger, "officer"), "officer", "learner", "web")
    browser.get("/learners/L1/replay?step=1")
    written(browser)
    assert [v.page for v in events_named(ledger, "PersonalDataViewed")] == ["learner", "replay"]
    assert "PersonalDataViewed" in browser.get("/learners/L1").text


def test_the_learner_page_shows_the_login_the_database_stamped_beside_the_actor(
        ledger: Any) -> None:
    from ledger.integrity.stamps import stamps_of

    position = ledger.learner_history("L1")[1][0][0]
    login = stamps_of(ledger, [position])[position][0]
    assert login  # the OS user on SQLite, the session user on PostgreSQL
    browser = client(ledger)
    log_in(browser, user_name(ledger, "auditor"))
    assert f"by officer (login {login})" in browser.get("/learners/L1").text


def test_an_eqa_never_sees_names_or_the_date_of_birth_and_records_no_view(ledger: Any) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "eqa"))
    for path in ("/", "/late", "/findings", "/learners/L1", "/learners/L1/replay",
                 "/late.csv", "/late.json"):
        page = browser.get(path)
        assert page.status_code == 200, path
        for secret in (GIVEN, FAMILY, DOB, "SW1A", "sian.q", "1000000043"):
            assert secret not in page.text, f"{path} shows {secret}"
    assert "19 to 23" in browser.get("/learners/L1").text or "24 and over" in browser.get(
        "/learners/L1").text
    assert events_named(ledger, "PersonalDataViewed") == []


def test_a_wrong_password_is_refused_and_repeated_failures_are_rate_limited(
        ledger: Any) -> None:
    if ledger.engine.dialect.name == "postgresql":
        pytest.skip("the test server trusts every connection: passwords are not checked")
    browser = client(ledger)
    name = user_name(ledger, "officer")
    for _ in range(5):
        assert log_in(browser, name, "not the password").status_code == 401
    assert log_in(browser, name).status_code == 429  # even the right one, for a while


def test_a_database_login_that_is_no_ledger_role_is_refused(ledger: Any) -> None:
    if ledger.engine.dialect.name != "postgresql":
        pytest.skip("database logins are PostgreSQL's")
    name = f"{TEST_SCHEMA}_web_nobody"
    with ledger.engine.begin() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"),
                                  {"n": name}).first():
            connection.exec_driver_sql(f'CREATE ROLE "{name}" LOGIN')
    assert log_in(client(ledger), name).status_code == 401


def test_forms_without_the_csrf_token_are_refused(ledger: Any) -> None:
    browser = client(ledger)
    name = user_name(ledger, "officer")
    refused = browser.post("/login", data={"csrf": "forged", "name": name,
                                           "password": PASSWORD})
    assert refused.status_code == 403
    log_in(browser, name)
    assert browser.post("/verify", data={"csrf": "forged"}).status_code == 403
    assert browser.get("/verify/status").json()["status"] == "idle"


def test_every_response_has_the_security_headers_and_a_strict_session_cookie(
        ledger: Any) -> None:
    browser = client(ledger)
    response = browser.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    cookie = response.headers["set-cookie"].lower()
    for flag in ("secure", "httponly", "samesite=strict"):
        assert flag in cookie


def test_no_personal_data_or_password_reaches_the_logs(
        ledger: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    browser = client(ledger)
    name = user_name(ledger, "officer")
    log_in(browser, name, "a wrong password here")
    log_in(browser, name)
    browser.get("/learners/L1")
    logged = caplog.text
    for secret in (GIVEN, FAMILY, DOB, PASSWORD, "a wrong password here"):
        assert secret not in logged


def test_bad_input_is_a_400_and_an_unknown_learner_a_404_with_no_traceback(
        ledger: Any) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "auditor"))
    cases = {"/late?on=2026-02-30": 400, "/findings?severity=huge": 400,
             "/late?page=0": 400, "/learners/L1?as_at=soon": 400,
             "/learners/L1/replay?step=99": 400, "/learners/NOBODY": 404, "/nowhere": 404}
    for path, status in cases.items():
        response = browser.get(path)
        assert response.status_code == status, path
        assert "Traceback" not in response.text and 'File "' not in response.text


def test_the_verify_page_runs_the_check_in_the_background(ledger: Any) -> None:
    browser = client(ledger)
    form = browser.get("/login")
    log_in(browser, user_name(ledger, "officer"))
    form = browser.get("/verify")
    assert browser.post("/verify", data={"csrf": token(form)}).status_code == 200
    job = browser.app.state.web.verify.wait()
    assert job.status == "done" and job.result["ok"] is True
    assert job.result["events"] >= 4
    assert "verified" in browser.get("/verify").text


def test_the_csv_and_json_downloads_carry_the_judged_on_date_and_the_digest(
        ledger: Any) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "officer"))
    csv_text = browser.get("/late.csv?on=2026-11-02").text.splitlines()
    assert csv_text[0] == "# Late registrations judged on 2026-11-02"
    digest = re.fullmatch(r"# Ledger digest: (\d+:[0-9a-f]{64}) .*", csv_text[1]).group(1)
    document = browser.get("/late.json?on=2026-11-02").json()
    assert (document["on"], document["ledger_digest"]) == ("2026-11-02", digest)
    assert [row["learner"] for row in document["rows"]] == ["L1"]
    assert document["rows"][0]["status"] == "late"


def test_reports_are_served_from_the_last_judgement_and_judged_again_in_the_background(
        ledger: Any) -> None:
    from datetime import date

    from ledger.web.shaping import Options, Reports

    reports = Reports(LedgerSource(ledger), load_rulebook(), fresh=0.0)
    options = Options(on=date(2026, 11, 2))
    first = reports.judged(options)
    ledger.add_learner(CTX, "C1", "L2", given_name="Ola", family_name="Nwosu",
                       date_of_birth="2001-02-03", gender="1")
    assert reports.judged(options) is first  # served at once, judged again meanwhile
    for _ in range(200):
        again = reports.judged(options)
        if again is not first:
            break
        import time

        time.sleep(0.05)
    assert again.position > first.position and again.digest != first.digest


def test_a_finding_cites_its_rule_as_an_assessor_would_with_the_seeds_words(ledger: Any) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "auditor"))
    page = browser.get("/findings").text
    assert "IMI registration guidance (issue 10), introduction" in page
    assert ("It is a requirement that learners undertaking regulated qualifications are "
            "registered within 90 days") in page


def test_personal_data_is_not_shown_when_its_view_cannot_be_recorded(
        ledger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = client(ledger)
    log_in(browser, user_name(ledger, "officer"))

    def refused(*_: Any) -> None:  # as a login without INSERT, or a full disk, would be
        raise ConfigurationError("the ledger cannot record the view")

    monkeypatch.setattr(ledger, "record_view", refused)
    page = browser.get("/learners/L1")
    assert page.status_code >= 400 and FAMILY not in page.text and DOB not in page.text
    assert "Traceback" not in page.text


def test_reports_are_not_judged_again_while_the_ledger_keeps_moving_but_once_it_stands_still(
        ledger: Any) -> None:
    import time
    from datetime import date

    from ledger.web.shaping import Options, Reports

    reports = Reports(LedgerSource(ledger), load_rulebook(), fresh=0.0, settle=1.5,
                      longest=600.0)
    options = Options(on=date(2026, 11, 2))
    first = reports.judged(options)
    moving_until = time.monotonic() + 4.0
    number = 2
    while time.monotonic() < moving_until:  # an import's batches, one after another
        ledger.add_learner(CTX, "C1", f"L{number}", given_name="Ola", family_name="Nwosu",
                           date_of_birth="2001-02-03", gender="1")
        number += 1
        assert reports.judged(options) is first
        time.sleep(0.1)
    time.sleep(1.6)  # the ledger stands still
    reports.judged(options)  # starts the judgement in the background
    for _ in range(400):
        again = reports.judged(options)
        if again is not first:
            break
        time.sleep(0.05)
    assert again is not first and again.position > first.position
