"""The counts an import keeps while planning rows, added up over batches and worker shares."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Tally:
    """Counts kept while planning rows."""

    rows: int = 0
    unchanged: int = 0
    events: int = 0
    new: int = 0
    updated: int = 0
    warnings: int = 0

    def add(self, other: Tally) -> None:
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))
