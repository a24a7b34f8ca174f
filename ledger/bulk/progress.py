"""Progress of long work (imports, rebuilds): an interface the CLI fills with a progress bar."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Something that shows how far long work has come (a rich bar, or nothing)."""

    def start(self, phase: str, total: int) -> None: ...

    def update(self, completed: int, rows: int) -> None: ...


class NoProgress:
    """Shows nothing: for scripts, tests and output that is not a terminal."""

    def start(self, phase: str, total: int) -> None:
        pass

    def update(self, completed: int, rows: int) -> None:
        pass
