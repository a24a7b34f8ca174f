"""An iterator whose next item is fetched in a thread while the caller waits on the disk."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class Prefetch(Generic[T]):
    """Items of an iterator, the next one fetched in a thread once `fetch_next` is called.

    For a loop whose every step ends in a long call that lets go of the GIL, such as
    SQLite's commit (writing the pages and syncing them): called just before it, the
    thread takes the next item meanwhile (reading it from the encoders' pipes and
    unpickling it). Started any earlier, the thread would take turns with the driver, which
    lets go of the GIL and takes it back for every row it inserts, and nothing would be
    gained. One thread, one item at a time: the iterator is never run by two at once.

    Use it as a context manager: leaving waits for an item still being fetched, so the
    iterator can be closed after.
    """

    def __init__(self, items: Iterator[T]) -> None:
        self._items = items
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._pending: Future[object] | None = None

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        pending, self._pending = self._pending, None
        item = pending.result() if pending is not None else next(self._items, _END)
        if item is _END:
            raise StopIteration
        return item  # type: ignore[return-value]

    def fetch_next(self) -> None:
        """Start fetching the next item in the thread (once: a second call does nothing)."""
        if self._pending is None:
            self._pending = self._thread.submit(next, self._items, _END)

    def close(self) -> None:
        """Wait for an item still being fetched, then stop the thread.

        The caller is leaving the loop without that item (a batch whose plan no longer
        holds, or an error on the way out), so it is dropped; an error fetching it is
        dropped with it, as the caller will not use what the iterator makes from here on.
        """
        if self._pending is not None:
            self._pending.exception()  # waits; what it raised is of an item no one takes
            self._pending = None
        self._thread.shutdown(wait=True)
