"""The access log's writer: each view of a learner's personal data recorded by one thread of
its own, so that a page does not wait for another writer's lock (an import's batch on SQLite).

A page hands its view to `ViewLog.record` and waits for it at most `wait` seconds:
- recorded in time: the page is sent, as before;
- refused in time (no right to write, a learner that cannot be recorded on): the error stops
  the page, as before (personal data is not shown); refused later, it is logged as an error
  (the learner's reference and centre, no personal data);
- still queued or waiting for the lock when `wait` runs out: the page is sent and the view
  stays queued; it is written as soon as the lock is free, in the order the views were made.

No view is ever dropped: the queue has no bound, a write that fails for a passing reason (the
database busy or unreachable) is tried again until it succeeds, and while one is failing no
further personal data is shown (`ViewsFailing`). `close` (the server's shutdown) writes every
queued view before it returns. What a crash loses is stated in docs/privacy.md: the views
queued and not yet written when the process dies (normally none; while an import holds the
write lock, those made since it took it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import DBAPIError

from aggregates.errors import ConcurrencyConflict, ConfigurationError, LedgerError

log = logging.getLogger("ledger.web")
WAIT_SECONDS = 0.05  # what a page waits for its view before it is sent with the view queued
# ... in a server (`ledger serve`): nothing. The page is sent with its view queued, whatever
# holds the write lock (an import's batch on SQLite holds it for most of the import); a view
# refused later is logged as an error, as one refused after the wait always was (a refusal
# is rare: a learner who can no longer be recorded on, whose data cannot be opened either)
SERVED_VIEW_WAIT = 0.0
RETRY_SECONDS = (0.05, 0.2, 1.0, 5.0)  # pauses between tries of a write that failed
# a write that may succeed if tried again (the learner changed by another writer meanwhile,
# more often than `record_view`'s own tries: ConcurrencyConflict)
TRANSIENT = (DBAPIError, PersistenceError, ConcurrencyConflict)


class ViewsFailing(ConfigurationError):
    """Views of personal data cannot be recorded right now: none is shown until they can."""


@dataclass(frozen=True)
class View:
    """Who saw which learner's personal data, in which role, on which page."""

    actor: str
    reference: str
    centre: str
    role: str
    page: str


class ViewLog:
    """Writes views through `write` on one thread of its own, in the order they were made."""

    def __init__(self, write: Callable[[View], object], wait: float = WAIT_SECONDS,
                 retries: tuple[float, ...] = RETRY_SECONDS) -> None:
        self.write, self.wait, self.retries = write, wait, retries
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ledger-views")
        self._lock = threading.Lock()
        self._pending = 0
        self._failing: str | None = None  # why the last try failed, until one succeeds
        self.written = 0

    @property
    def pending(self) -> int:
        """Views handed over and not yet written."""
        with self._lock:
            return self._pending

    def record(self, view: View) -> None:
        """Queue the view and wait for it at most `wait` seconds; its error, if it fails in
        that time, is raised here (the page is not shown)."""
        with self._lock:
            if self._failing is not None:
                raise ViewsFailing(f"views of personal data cannot be recorded now "
                                   f"({self._failing}); try again later")
            self._pending += 1
        future: Future[None] = self._executor.submit(self._write, view)
        with contextlib.suppress(FutureTimeout):  # still queued: written once the lock is
            future.result(timeout=self.wait)  # free, and before the server stops

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every view handed over before this call is written (or refused)."""
        self._executor.submit(lambda: None).result(timeout=timeout)

    def close(self) -> None:
        """Write every queued view, then stop the writer (the server's shutdown)."""
        left = self.pending
        if left:
            log.info("writing %d queued views of personal data before stopping", left)
        self._executor.shutdown(wait=True)

    def _write(self, view: View) -> None:
        try:
            tries = 0
            while True:
                try:
                    self.write(view)
                except TRANSIENT as error:  # busy, locked, unreachable: try again
                    self._failed(type(error).__name__)
                    time.sleep(self.retries[min(tries, len(self.retries) - 1)])
                    tries += 1
                except LedgerError as error:  # refused: trying again would not change it
                    log.error("a view of personal data was refused by the ledger (%s, "
                              "learner %s at %s)", type(error).__name__, view.reference,
                              view.centre)
                    raise  # to the page, if it still waits: the data is not shown
                else:
                    self._succeeded()
                    return
        finally:
            with self._lock:
                self._pending -= 1

    def _succeeded(self) -> None:
        with self._lock:
            self._failing = None
            self.written += 1

    def _failed(self, why: str) -> None:
        log.warning("a view of personal data could not be recorded (%s)", why)
        with self._lock:
            self._failing = why
