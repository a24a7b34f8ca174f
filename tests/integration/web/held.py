"""A ledger source whose chain check stops after its first page until the test lets it go:
the real check on the real database, held so that its progress can be seen while it runs."""

from __future__ import annotations

import threading
from typing import Any

from ledger.bulk.progress import NoProgress, Progress
from ledger.integrity.verify import Verification
from ledger.web.sources import LedgerSource


class HeldProgress:
    """Passes progress on, then waits at the first page checked until released."""

    def __init__(self, inner: Progress, paused: threading.Event,
                 release: threading.Event) -> None:
        self.inner, self.paused, self.release = inner, paused, release

    def start(self, phase: str, total: int) -> None:
        self.inner.start(phase, total)

    def update(self, completed: int, rows: int) -> None:
        self.inner.update(completed, rows)
        if not self.paused.is_set():
            self.paused.set()
            self.release.wait(60)


class HeldSource(LedgerSource):
    """A LedgerSource that checks the chain `page` positions at a time and holds after the
    first page (`paused` is then set) until `release` is set."""

    def __init__(self, app: Any, page: int) -> None:
        super().__init__(app, verify_page=page)
        self.paused, self.release = threading.Event(), threading.Event()

    def verify(self, progress: Progress | None = None) -> Verification:
        held = HeldProgress(progress or NoProgress(), self.paused, self.release)
        return super().verify(held)
