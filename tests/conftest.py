"""Shared fixtures: a fresh ledger database on SQLite or PostgreSQL for each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

DEFAULT_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TEST_SCHEMA = os.environ.get("LEDGER_TEST_SCHEMA", "ledger_test")

# Hypothesis's per-example deadline is a timing assertion: on a shared CI host an example of a
# few milliseconds can take a few hundred, and fail for it. Speed is measured in bench/.
settings.register_profile("ledger", deadline=None)
settings.load_profile("ledger")


def postgres_server_url() -> str:
    """The server the PostgreSQL tests use (LEDGER_TEST_POSTGRES_URL or the local default)."""
    return os.environ.get("LEDGER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_required() -> bool:
    """CI sets LEDGER_REQUIRE_POSTGRES=1: a missing server is then a failure, not a skip."""
    return os.environ.get("LEDGER_REQUIRE_POSTGRES", "") not in ("", "0", "no", "false")


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def fresh_postgres_url(schema: str = TEST_SCHEMA) -> str:
    """An empty schema on the test server; its URL puts the schema first on the search path."""
    base = postgres_server_url()
    try:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
    except Exception as error:
        if postgres_required():
            raise
        pytest.skip(f"no PostgreSQL server at {base} ({type(error).__name__})")
    return _with_search_path(base, schema)


TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW5vdC1mb3ItcHJvZC11c2U="


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with a known master key unless it removes it (LEDGER_MASTER_KEY)."""
    monkeypatch.setenv("LEDGER_MASTER_KEY", TEST_MASTER_KEY)
    monkeypatch.delenv("LEDGER_MASTER_KEY_FILE", raising=False)
    return TEST_MASTER_KEY


@pytest.fixture(autouse=True)
def no_checkpoint_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test signs checkpoints unless it sets LEDGER_SIGNING_KEY itself."""
    for name in ("LEDGER_SIGNING_KEY", "LEDGER_CHECKPOINT_LOG", "LEDGER_CHECKPOINT_EVERY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty ledger database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return fresh_postgres_url()


@pytest.fixture
def make_app(db_url: str) -> Iterator[Callable[[], object]]:
    """Opens ledger applications on the test database and closes them afterwards."""
    from ledger.app import LedgerApp

    apps: list[LedgerApp] = []

    def make() -> LedgerApp:
        app = LedgerApp(db_url)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
        app.engine.dispose()


def without_event_checks(app: object) -> object:
    """The ledger with PostgreSQL's event checks removed (the owner can), for tests of the
    recorder's plumbing that store arbitrary topics and bytes, which no ledger event has."""
    from ledger.storage.event_checks import CHECKS_TRIGGER
    from ledger.storage.persistence import EVENTS_TABLE

    engine = app.engine  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {CHECKS_TRIGGER} ON {EVENTS_TABLE}"))
    return app
