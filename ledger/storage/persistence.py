"""Persistence set-up: database URLs, the library's environment, and append-only triggers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from aggregates.errors import ConfigurationError
from ledger.storage.locations import (  # noqa: F401 (named here by many modules)
    APPEND_ONLY_MESSAGE,
    DEFAULT_DB_URL,
    EVENT_HASHES_TABLE,
    EVENTS_TABLE,
    database_url,
)

if TYPE_CHECKING:  # the ORM loads only with the recorder (reading commands never need it)
    from sqlalchemy.orm import Session

def application_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for the ledger application on that database."""
    return {
        "PERSISTENCE_MODULE": "ledger.integrity.chained_recorder",
        "SQLALCHEMY_URL": url,
        "CREATE_TABLE": "yes",
    }


SCHEMA_LOCK_KEY = 8150000
CREATE_ATTEMPTS = 5


def create_tables_once(create: Callable[[], None]) -> None:
    """Run a table creation that checks first, tolerating another process that creates the
    same tables at the same moment: it may create one between the check and the CREATE, and
    the CREATE then fails with "already exists". Run again, the check finds it.

    (On PostgreSQL `schema_lock` serialises a ledger's set-up; an SQLite file has no such
    lock, and two `ledger` processes starting on a new file raced.)
    """
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            create()
            return
        except DBAPIError as error:
            if "already exists" not in str(error) or attempt == CREATE_ATTEMPTS:
                raise


INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for "permission denied"


@contextmanager
def owner_upgrade(what: str) -> Iterator[None]:
    """Set-up that only the ledger's owner may do (on PostgreSQL): a login without the
    privilege gets one line saying who must run `ledger init`, not a driver error."""
    try:
        yield
    except DBAPIError as error:
        if getattr(error.orig, "pgcode", None) != INSUFFICIENT_PRIVILEGE:
            raise
        raise ConfigurationError(
            f"this ledger needs {what}, which only its owner can install: run `ledger init` "
            "once as the ledger's owner") from None


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Serialise table creation between processes starting at once (PostgreSQL races on it)."""
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
                connection.commit()
    finally:
        engine.dispose()


SQLITE_BUSY_MS = 60_000
SQLITE_CHECKPOINT_PAGES = 160_000  # pages of WAL (about 640 MB) between automatic checkpoints
SQLITE_BULK_CACHE_KIB = 65_536  # page cache of a connection storing a batch (default 2 MiB)
SQLITE_BULK_CACHE = f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"


def widen_sqlite_cache(session: Session) -> None:
    """On SQLite, give the session's connection (from then on) a page cache of
    SQLITE_BULK_CACHE_KIB, not SQLite's 2 MiB, for a large write: an import's batch of
    events, a rebuild's window of report rows.

    Such a write adds or replaces entries all over a randomly keyed index (the events'
    aggregate ids, the timelines' learner ids). In the default cache a batch's pages did not
    stay from one batch to the next, and spilled out before its commit, to be written again
    at it: the import's storing process used 13% more CPU, and at 1,000,000 learners a
    rebuild's writes spent a fifth of their time spilling pages. Only connections that
    write in bulk get it: readers (rebuilds' workers, verify) would only fill it with pages
    they read once. Nothing is done on another database.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.execute(SQLITE_BULK_CACHE)


def configure_postgres(engine: Engine) -> None:
    """PostgreSQL: a database in UTF-8, and UTF-8 on every connection.

    The ledger stores and reads text (the reports' timelines, stored JSON read as text) in
    any language. A database created as SQL_ASCII or LATIN1 could not hold it all: it is
    refused here, with how to make one that can, not with a driver traceback at the first
    rebuild. The connections' encoding is set, not taken from the environment
    (`PGCLIENTENCODING`), so text reaches the ledger as it was stored.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        driver: Any = connection.connection.dbapi_connection
        encoding = driver.get_parameter_status("server_encoding")
    if encoding != "UTF8":
        raise ConfigurationError(
            f"the PostgreSQL database {engine.url.database!r} uses the {encoding} encoding; "
            "the ledger needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)"
        )

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_client_encoding("UTF8")

    engine.dispose()  # the connections opened while setting up get it too


def is_sqlite_in_memory(engine: Engine) -> bool:
    """An SQLite database in memory: only this process's connection can open it."""
    database = str(engine.url.database or "")
    return engine.dialect.name == "sqlite" and (database in ("", ":memory:")
                                                or "mode=memory" in database)


def configure_sqlite(engine: Engine) -> None:
    """SQLite file: settings for every connection.

    - Wait up to a minute for another writer's transaction, not the driver's default five
      seconds: a large import batch holds the write lock for seconds.
    - Copy the write-ahead log back into the database file every SQLITE_CHECKPOINT_PAGES
      pages, not SQLite's default 1,000 (4 MB). A bulk write touches index pages all over
      the file; checkpointing after almost every batch copied the same pages again and
      again; at 1,000,000 learners every 40,000 pages still did, and every 160,000 (about
      640 MB of WAL while the ledger is open: the last connection to close checkpoints it
      and removes it) takes a tenth off an import's write pass. Bulk writes end with
      `checkpoint`, so no later writer pays for theirs.
    """
    if engine.dialect.name != "sqlite" or is_sqlite_in_memory(engine):
        return

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")

    engine.dispose()  # the connections opened while setting up get them too


SQLITE_WAL_RETRY_SECONDS = 0.02
SQLITE_FILE_MODE = 0o600


def create_sqlite_file_privately(url: str) -> None:
    """SQLite: a new ledger file is created owner-only (0600), whatever the umask, before
    SQLite opens it (its write-ahead log and shared-memory files take the file's mode).

    A SQLite ledger is only as safe as its file's permissions: whoever can write the file
    can rewrite its history and chain (which checkpoints kept elsewhere detect); whoever can
    read it reads every event. An existing file is left as it is."""
    if not url.startswith("sqlite:///") or ":memory:" in url or "mode=memory" in url:
        return
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except FileExistsError:
        return
    os.fchmod(descriptor, SQLITE_FILE_MODE)  # the umask may have taken bits off, never added
    os.close(descriptor)


def enter_sqlite_wal_mode(url: str) -> None:
    """SQLite file: switch it to write-ahead logging before the application sets it up,
    waiting as a writer would for another process that writes meanwhile.

    A new file is in rollback-journal mode. The switch upgrades a read lock to a write
    lock, and SQLite refuses that at once ("database is locked"), without calling the busy
    handler, while another connection writes: a ledger starting beside another on a new
    file failed so. The switch is kept in the file, so later ones change nothing.
    """
    if not url.startswith("sqlite"):
        return
    engine = create_engine(url, poolclass=NullPool,
                           connect_args={"timeout": SQLITE_BUSY_MS / 1000})
    try:
        if not is_sqlite_in_memory(engine):
            _switch_to_wal(engine)
    finally:
        engine.dispose()


def _switch_to_wal(engine: Engine) -> None:
    """Ask for WAL until no other writer holds the file, for as long as a writer waits."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL").all()
            return
        except DBAPIError as error:
            if "database is locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(SQLITE_WAL_RETRY_SECONDS)


def checkpoint(engine: Engine) -> None:
    """SQLite file: copy the write-ahead log back into the database file now, as far as
    readers allow (PASSIVE: it waits for nobody). The last step of a bulk write."""
    if engine.dialect.name != "sqlite" or is_sqlite_in_memory(engine):
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()


def install_append_only_triggers(
    engine: Engine, tables: Sequence[str] = (EVENTS_TABLE, EVENT_HASHES_TABLE)
) -> None:
    """Make the events and chain tables refuse UPDATE, DELETE (and TRUNCATE) in the database."""
    for table in tables:
        _install_append_only_trigger(engine, table)


def _install_append_only_trigger(engine: Engine, table: str) -> None:
    statements = (
        _postgres_trigger_sql(table) if engine.dialect.name == "postgresql"
        else _sqlite_trigger_sql(table)
    )
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            installed = connection.execute(
                text("SELECT count(*) FROM pg_trigger "
                     "WHERE tgname = :name AND tgrelid = to_regclass(:table)"),
                {"name": f"{table}_append_only", "table": table},
            ).scalar_one()
            if installed:
                return
        for statement in statements:
            connection.execute(text(statement))


def _sqlite_trigger_sql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        for verb in ("UPDATE", "DELETE")
    ]


def _postgres_trigger_sql(table: str) -> list[str]:
    return [
        f"""CREATE OR REPLACE FUNCTION {table}_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$""",
        f"""CREATE OR REPLACE TRIGGER {table}_append_only
            BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()""",
        f"""CREATE OR REPLACE TRIGGER {table}_no_truncate
            BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()""",
    ]
