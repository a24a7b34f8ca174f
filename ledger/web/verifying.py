"""The verify page's background job: one chain check at a time, its progress and result."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from aggregates.errors import LedgerError
from ledger.bulk.progress import Progress
from ledger.integrity.verify import Verification


class Verifiable(Protocol):
    def verify(self, progress: Progress | None = None) -> Verification: ...

    def head(self) -> int: ...


@dataclass
class VerifyState:
    """What the page shows: idle, running (since when, positions checked of how many) or
    done (the result, with the position of the first event that does not fit)."""

    status: str = "idle"
    started: datetime | None = None
    finished: datetime | None = None
    positions: int = 0  # the positions to check (the head when the check started)
    result: dict[str, Any] | None = None
    error: str | None = None
    checked: int = 0  # positions checked so far

    @property
    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        end = self.finished or datetime.now(UTC)
        return round((end - self.started).total_seconds(), 1)

    @property
    def percent(self) -> int:
        """Positions checked as a whole percentage of those to check (0 before it knows)."""
        if self.positions <= 0:
            return 0
        return min(100, self.checked * 100 // self.positions)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "seconds": self.seconds, "positions": self.positions,
                "checked": self.checked, "percent": self.percent,
                "started": self.started.isoformat() if self.started else None,
                "result": self.result, "error": self.error}


class StateProgress:
    """The chain check's progress written into the job's state, for the page to poll."""

    def __init__(self, state: VerifyState) -> None:
        self.state = state

    def start(self, phase: str, total: int) -> None:
        self.state.positions = max(total, 0)
        self.state.checked = 0

    def update(self, completed: int, rows: int) -> None:
        # parallel workers report their sum; a position is never counted back
        self.state.checked = max(self.state.checked, min(completed, self.state.positions))


class VerifyJob:
    """Runs the chain check in a thread; a second start while one runs joins it."""

    def __init__(self, source: Verifiable) -> None:
        self.source = source
        self.state = VerifyState()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self.state.status == "running":
                return
            self.state = VerifyState("running", datetime.now(UTC), None, self.source.head())
            self._thread = threading.Thread(target=self._run, args=(self.state,),
                                            name="ledger-verify", daemon=True)
            self._thread.start()

    def wait(self, timeout: float = 60.0) -> VerifyState:
        """The state once the running check ends (for tests and the bench)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state

    def _run(self, state: VerifyState) -> None:
        try:
            verification = self.source.verify(StateProgress(state))
            result, error = verification.as_dict(), None
        except LedgerError as failure:  # a tampered bundle
            result, error = None, str(failure)
        except (PersistenceError, SQLAlchemyError) as failure:  # the database went away
            result, error = None, f"database: {str(failure).strip().splitlines()[0]}"
        if result is not None and result["ok"]:
            state.checked = state.positions
        state.result, state.error = result, error
        state.finished = datetime.now(UTC)
        state.status = "done"
