"""A rich progress bar on stderr for long commands (import, rebuild, verify, export), with
rate and time remaining, shown on terminals only."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RowsPerSecond(ProgressColumn):
    """Rows (or events) handled per second so far."""

    def __init__(self, unit: str = "rows") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        rows = task.fields.get("rows", 0)
        elapsed = task.elapsed or 0.0
        rate = rows / elapsed if elapsed > 0 else 0.0
        return Text(f"{rows:,} {self.unit}  {rate:,.0f} {self.unit}/s",
                    style="progress.data.speed")


class TerminalProgress:
    """A rich progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, unit: str = "rows") -> None:
        console = Console(stderr=True)
        self.enabled = console.is_terminal
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            RowsPerSecond(unit), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=console, transient=True,
        )
        self.task: Any = None

    def __enter__(self) -> TerminalProgress:
        if self.enabled:
            self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.enabled:
            self.bar.stop()

    def start(self, phase: str, total: int) -> None:
        if self.enabled:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task(phase, total=max(total, 1), rows=0)

    def update(self, completed: int, rows: int) -> None:
        if self.enabled and self.task is not None:
            self.bar.update(self.task, completed=completed, rows=rows)
