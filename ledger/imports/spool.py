"""The import's plan spool on disk (each batch's plan for the write pass), and a share's
records of a batch."""

from __future__ import annotations

import pickle
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from ledger.imports.source import Record
from ledger.imports.tally import Tally
from ledger.privacy.sealing import PreparedEvent

Event = DomainEventProtocol[UUID]


@dataclass
class BatchPlan:
    """One batch as the check planned it: its rows, the learners' new events (prepared for
    storing), the counts."""

    rows: int = 0
    events: list[PreparedEvent] = field(default_factory=list)
    counts: Tally = field(default_factory=Tally)
    touched: set[UUID] = field(default_factory=set)


class PlanSpool:
    """Batch plans written to a temporary file in order, then read back once in the same order.

    A batch's prepared events are pickled by attribute, as five tuples (its ids, its
    versions, ...), not as a tuple an event: no small tuple to make and free for each event,
    so a sixth to a third cheaper to write and to read back (named tuples would pickle
    through a Python call each). Each batch is compressed: an import's plan takes about 25
    bytes an event.
    """

    def __init__(self) -> None:
        # closed by close() or at the end of a with block; the file has no name on disk
        self._file = tempfile.TemporaryFile(prefix="ledger-import-plan-")  # noqa: SIM115

    def __enter__(self) -> PlanSpool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, plan: BatchPlan) -> None:
        by_attribute = tuple(zip(*plan.events, strict=True))
        data = pickle.dumps((plan.rows, by_attribute, plan.counts, plan.touched),
                            protocol=pickle.HIGHEST_PROTOCOL)
        compressed = zlib.compress(data, 1)
        self._file.write(len(compressed).to_bytes(8, "little"))
        self._file.write(compressed)

    def plans(self) -> Iterator[BatchPlan]:
        """Every batch plan, in the order they were added (in this process or, once it has
        flushed them, in a forked worker that shares the file)."""
        self._file.seek(0)
        while size := int.from_bytes(self._file.read(8), "little"):
            rows, by_attribute, counts, touched = pickle.loads(
                zlib.decompress(self._file.read(size)))
            events = list(map(PreparedEvent, *by_attribute)) if by_attribute else []
            yield BatchPlan(rows, events, counts, touched)

    def flush(self) -> None:
        """Write out the plans added so far, for another process to read."""
        self._file.flush()

    def close(self) -> None:
        self._file.close()



@dataclass
class RecordBatch:
    """One share's records of a batch of the file, with how far the batch reaches: the
    file's rows and bytes read up to its end (for progress)."""

    records: list[Record]
    seen: int
    bytes_read: int
