"""The access log's writer on SQLite and PostgreSQL: an officer's learner page is served while
another connection holds the ledger's write lock (as an import's batch does), and the view is
in the learner's audit trail once the lock is free; views queued at shutdown are written."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from ledger.rules.rulesets import load_rulebook
from ledger.storage.persistence import EVENTS_TABLE
from ledger.web.routes import create_app
from ledger.web.sources import LedgerSource
from tests.integration.web.test_web_app import (
    DOB,
    FAMILY,
    events_named,
    ledger,  # noqa: F401  (the fixture)
    log_in,
    user_name,
)

HELD_SECONDS = 4.0  # how long the other connection keeps the write lock


@contextlib.contextmanager
def write_lock_held(app: Any, seconds: float) -> Iterator[threading.Event]:
    """Another connection takes the ledger's write lock (as the event store's own insert
    takes it) and lets it go after `seconds`, on a thread of its own; yields once held."""
    engine = create_engine(app.engine.url)
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE"))
            held.set()
            time.sleep(seconds)
            connection.rollback()
        done.set()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(30)
    try:
        yield done
    finally:
        thread.join(seconds + 30)
        engine.dispose()


def test_a_learner_page_is_served_while_an_import_holds_the_write_lock_and_its_view_is_kept(
        ledger: Any) -> None:  # noqa: F811
    web = create_app(LedgerSource(ledger), load_rulebook(), secret="test-secret")
    browser = TestClient(web, base_url="https://testserver")
    officer = user_name(ledger, "officer")
    log_in(browser, officer)
    with write_lock_held(ledger, HELD_SECONDS) as released:
        started = time.monotonic()
        page = browser.get("/learners/L1")
        took = time.monotonic() - started
        assert not released.is_set()
    assert page.status_code == 200 and FAMILY in page.text and DOB in page.text
    assert took < HELD_SECONDS / 2, f"the page waited {took:.1f} s for the write lock"
    web.state.web.views.flush(60)
    views = events_named(ledger, "PersonalDataViewed")
    assert [(v.actor, v.role, v.page) for v in views] == [(officer, "officer", "learner")]
    assert "PersonalDataViewed" in browser.get("/learners/L1").text  # in the audit trail


def test_views_still_queued_when_the_server_stops_are_written_before_it_stops(
        ledger: Any) -> None:  # noqa: F811
    web = create_app(LedgerSource(ledger), load_rulebook(), secret="test-secret")
    with TestClient(web, base_url="https://testserver") as browser:  # runs the lifespan
        log_in(browser, user_name(ledger, "auditor"))
        with write_lock_held(ledger, HELD_SECONDS):
            for _ in range(3):
                assert browser.get("/learners/L1").status_code == 200
            assert web.state.web.views.pending >= 1
    # the lifespan's shutdown waited for the lock and wrote every queued view
    assert web.state.web.views.pending == 0
    assert len(events_named(ledger, "PersonalDataViewed")) == 3


def unreachable_database() -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError("INSERT", {}, Exception("unreachable"))


def learner_kept_changing() -> Exception:
    from aggregates.errors import ConcurrencyConflict

    return ConcurrencyConflict("learner L1 kept changing; try again")


@pytest.mark.parametrize("failure", [unreachable_database, learner_kept_changing])
def test_while_views_cannot_be_written_no_more_personal_data_is_shown_and_none_is_dropped(
        ledger: Any, monkeypatch: Any, failure: Any) -> None:  # noqa: F811
    web = create_app(LedgerSource(ledger), load_rulebook(), secret="test-secret")
    views = web.state.web.views
    views.retries = (0.05,)
    browser = TestClient(web, base_url="https://testserver")
    log_in(browser, user_name(ledger, "officer"))
    record = ledger.record_view
    tries: list[int] = []

    def unreachable(*args: Any) -> Any:  # the database gone for a while, then back
        tries.append(1)
        if len(tries) < 20:
            raise failure()
        return record(*args)

    monkeypatch.setattr(ledger, "record_view", unreachable)
    assert browser.get("/learners/L1").status_code == 200  # queued: its write is retried
    deadline = time.monotonic() + 10
    while views.pending and len(tries) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    refused = browser.get("/learners/L1")
    assert refused.status_code == 503 and FAMILY not in refused.text
    assert DOB not in refused.text and "Traceback" not in refused.text
    views.flush(60)  # the database is back: the queued view is written
    assert len(events_named(ledger, "PersonalDataViewed")) == 1
    assert browser.get("/learners/L1").status_code == 200
    views.flush(60)
    assert len(events_named(ledger, "PersonalDataViewed")) == 2
