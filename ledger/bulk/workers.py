"""Worker processes for bulk passes (verify, rebuild, the import's check): how many, and
running shares of the work in forked processes."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from aggregates.errors import LedgerError
from ledger.bulk.progress import Progress
from ledger.storage.persistence import is_sqlite_in_memory

PARALLEL_FROM = 50_000  # events: below this, starting worker processes costs more than it saves
MAX_WORKERS = 8
POLL_SECONDS = 0.2
LOOKAHEAD = 3  # items a streaming worker may make before the caller takes them
STREAM_NICENESS = 10  # a streaming worker's priority below its caller's (see _stream_share)

T = TypeVar("T")


class WorkerFailed(LedgerError):
    """A worker process stopped without finishing its share, or failed with an error that
    cannot be passed back as it is."""


def worker_count(engine: Engine, events: int) -> int:
    """One process per core (at most MAX_WORKERS) for a large ledger in a file or on a
    server, else one.

    Workers are forked (they inherit the parent's set-up) and open connections of their
    own, so an in-memory database or a platform without fork gets one process.
    """
    if events < PARALLEL_FROM or not can_fork_workers(engine):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def can_fork_workers(engine: Engine) -> bool:
    """Whether forked workers can open the same database: a file or a server (not SQLite in
    memory), on a platform with fork (not Windows)."""
    return not is_sqlite_in_memory(engine) and "fork" in multiprocessing.get_all_start_methods()


def use_own_connections(engine: Engine) -> None:
    """In a forked worker: forget the pooled connections inherited from the parent without
    closing them (closing would end the parent's sessions too); new ones are opened."""
    engine.dispose(close=False)


def portable(error: BaseException, what: str) -> BaseException:
    """A worker's error as it can cross to the parent: itself if it pickles, else what it
    says, as a WorkerFailed naming `what` (such as "a rebuild worker")."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # whatever stops pickling it: send its type and message
        return WorkerFailed(f"{what} failed: {type(error).__name__}: {error}")


class SharedProgress:
    """A worker's progress, kept where the parent process can read it."""

    def __init__(self, counters: Any, share: int) -> None:
        self.counters, self.share = counters, share

    def start(self, phase: str, total: int) -> None:
        pass  # the parent shows the phase

    def update(self, completed: int, rows: int) -> None:
        self.counters[2 * self.share] = completed
        self.counters[2 * self.share + 1] = rows


def run_shares(work: Callable[[int, Progress], T], workers: int, engine: Engine,
               progress: Progress, what: str) -> list[T]:
    """`work(share, progress)` for each share 0 .. workers - 1, each in a forked process with
    connections of its own; their results in share order.

    The progress shown is the least any worker has made. The first error a worker raises is
    raised here, and the other workers are stopped.
    """
    counters = multiprocessing.get_context("fork").Array("q", 2 * workers, lock=False)
    ends, processes = start_workers(workers, engine, _run_share, work, counters, what)
    pipes = {pipe: share for share, pipe in enumerate(ends)}
    try:
        results: dict[int, T] = {}
        while pipes:
            for pipe in wait(list(pipes), timeout=POLL_SECONDS):
                results[pipes.pop(pipe)] = _answer(pipe, what)  # type: ignore[arg-type]
            progress.update(min(counters[0::2]), min(counters[1::2]))
        return [results[share] for share in range(workers)]
    finally:
        stop_processes(processes, ends)


def run_fed_shares(work: Callable[[int, Iterator[Any], Progress], T],
                   feed: Iterable[Sequence[Any]], workers: int, engine: Engine,
                   progress: Progress, what: str) -> list[T]:
    """`work(share, items, progress)` for each share 0 .. workers - 1, each in a forked
    process, while this process makes the items: each step of `feed` holds one item for
    each share, sent to that share's worker through a pipe as soon as it is made (the
    workers start on the first items while this process makes the next); their results in
    share order.

    Each worker reads ahead up to FEED_AHEAD items in a thread of its own, so a worker
    whose share runs slower does not hold the others back. The first error a worker raises
    is raised here; an error making the items (or Ctrl-C) stops the workers.
    """
    context = multiprocessing.get_context("fork")
    counters = context.Array("q", 2 * workers, lock=False)
    inboxes = [context.Pipe(duplex=False) for _ in range(workers)]  # (worker's, ours)
    ends, processes = start_workers(workers, engine, _run_fed_share, work, inboxes, counters,
                                    what)
    outboxes = [ours for _, ours in inboxes]
    for theirs, _ in inboxes:
        theirs.close()  # only the worker holds its reading end: a worker that dies breaks it
    try:
        fed = _feed(feed, outboxes, counters, progress)
        pipes = {pipe: share for share, pipe in enumerate(ends)}
        results: dict[int, T] = {}
        while pipes:
            for pipe in wait(list(pipes), timeout=POLL_SECONDS):
                results[pipes.pop(pipe)] = _answer(pipe, what)  # type: ignore[arg-type]
            progress.update(min(counters[0::2]), min(counters[1::2]))
        if not fed:
            raise WorkerFailed(f"{what} stopped reading its items")
        return [results[share] for share in range(workers)]
    finally:
        for outbox in outboxes:
            outbox.close()
        stop_processes(processes, ends)


def _feed(feed: Iterable[Sequence[Any]], outboxes: list[Connection], counters: Any,
          progress: Progress) -> bool:
    """Send each step's items to the workers; False if a worker stopped taking them (it
    failed, or died: its error, if any, is then read from its result pipe)."""
    for step in feed:
        for outbox, item in zip(outboxes, step, strict=True):
            try:
                outbox.send(item)
            except OSError:  # a broken pipe: the worker has gone
                return False
        progress.update(min(counters[0::2]), min(counters[1::2]))
    for outbox in outboxes:
        try:
            outbox.send(_END)
        except OSError:
            return False
    return True


FEED_AHEAD = 4  # items a fed worker reads ahead of its work


def _run_fed_share(share: int, pipe: Connection, work: Callable[[int, Iterator[Any], Progress],
                                                                 Any],
                   inboxes: list[tuple[Connection, Connection]], counters: Any,
                   what: str) -> None:
    """In a forked worker: do the share on the items sent to it, then send back the result
    or the error (having closed its inbox first, so a parent still sending is not left
    waiting on a worker that takes no more)."""
    inbox = inboxes[share][0]
    for index, (theirs, ours) in enumerate(inboxes):
        ours.close()
        if index != share:
            theirs.close()
    items: queue.Queue[Any] = queue.Queue(maxsize=FEED_AHEAD)
    reader = threading.Thread(target=_read_all, args=(inbox, items), daemon=True)
    reader.start()
    try:
        answer = work(share, _items(items, what), SharedProgress(counters, share))
    except BaseException as error:  # the parent raises it
        answer = portable(error, what)
    inbox.close()
    _send(pipe, answer, what)


def _read_all(inbox: Connection, items: queue.Queue[Any]) -> None:
    """In a fed worker's thread: take each item from the parent, up to the end mark (or
    the pipe's end, if the parent stopped before sending it)."""
    while True:
        try:
            item = inbox.recv()
        except (EOFError, OSError):
            item = _CUT
        items.put(item)
        if item is _END or item is _CUT:
            return


def _items(items: queue.Queue[Any], what: str) -> Iterator[Any]:
    while (item := items.get()) is not _END:
        if item is _CUT:
            raise WorkerFailed(f"{what} was sent only part of its items")
        yield item


_CUT = object()


def stream_shares(work: Callable[[int], Iterable[T]], workers: int, engine: Engine,
                  what: str) -> Iterator[list[T]]:
    """The items of `work(share)` for each share 0 .. workers - 1, each share made in a
    forked process: step by step, each step's items in share order.

    Every share must make as many items. The workers run niced below the caller (see
    `_stream_share`). A worker runs at most LOOKAHEAD items ahead of the caller, so closing
    this iterator early stops them with little work wasted. The first error a worker raises
    is raised here.
    """
    pipes, processes = start_workers(workers, engine, _stream_share, work, what)
    try:
        while True:
            items = [_answer(pipe, what) for pipe in pipes]
            ended = [item is _END for item in items]
            if all(ended):
                return
            if any(ended):
                raise WorkerFailed(f"{what} made fewer items than the others")
            yield items
    finally:
        stop_processes(processes, pipes)


class _End:
    """Sent by a streaming worker after its last item."""

    def __reduce__(self) -> str:
        return "_END"  # the same object again on the other side


_END = _End()


def _stream_share(share: int, pipe: Connection, work: Callable[[int], Iterable[Any]],
                  what: str) -> None:
    """In a forked worker: make the share's items, then the end mark, while a thread sends
    them (so the worker can make the next few while the caller is busy).

    The worker runs at a lower priority than its caller: the caller is the one serial step
    (the import's storing process), and with more processes than cores a feeder that takes
    the caller's core slows the whole stream; a niced feeder still gets every cycle the
    caller leaves, such as while it waits for the disk.
    """
    os.nice(STREAM_NICENESS)
    outbox: queue.Queue[Any] = queue.Queue(maxsize=LOOKAHEAD)
    gone = threading.Event()
    sender = threading.Thread(target=_send_all, args=(outbox, pipe, gone, what), daemon=True)
    sender.start()
    try:
        for item in work(share):
            if gone.is_set():
                break  # the caller stopped reading (or an item could not be sent)
            outbox.put(item)
        else:
            outbox.put(_END)
    except BaseException as error:  # the caller raises it
        outbox.put(portable(error, what))
    outbox.put(_DONE)
    sender.join()


def _send_all(outbox: queue.Queue[Any], pipe: Connection, gone: threading.Event,
              what: str) -> None:
    """Send what the worker makes until it is done; once the caller has gone, or an item
    could not be sent (it sends the error instead), only drain."""
    while (item := outbox.get()) is not _DONE:
        if not gone.is_set() and not _send(pipe, item, what):
            gone.set()


def _send(pipe: Connection, item: Any, what: str) -> bool:
    """Send an item, or the error that stops it being sent (such as an item that does not
    pickle), for the caller to raise; False unless the item went."""
    try:
        pipe.send(item)
        return True
    except OSError:  # a broken pipe: the caller closed its end
        return False
    except Exception as error:
        with suppress(OSError):  # the caller has gone: nobody is left to tell
            pipe.send(portable(error, what))
        return False


_DONE = object()


def _answer(pipe: Connection, what: str) -> Any:
    try:
        answer = pipe.recv()
    except EOFError:
        raise WorkerFailed(f"{what} process stopped unexpectedly") from None
    if isinstance(answer, BaseException):
        raise answer
    return answer


def _run_share(share: int, pipe: Connection, work: Callable[[int, Progress], Any],
               counters: Any, what: str) -> None:
    """In a forked worker: do the share and send back its result or its error."""
    try:
        answer = work(share, SharedProgress(counters, share))
    except BaseException as error:  # the parent raises it
        answer = portable(error, what)
    _send(pipe, answer, what)


def start_workers(workers: int, engine: Engine, target: Callable[..., None], *args: Any,
                  duplex: bool = False) -> tuple[list[Connection], list[BaseProcess]]:
    """Fork `workers` processes, each running `target(share, pipe, *args)` with database
    connections of its own and Ctrl-C left to the parent; returns the parent's ends of their
    pipes (receiving ends unless `duplex`) and the processes, in share order.

    Each worker holds the only other end of its pipe, so the parent reads EOF if it dies,
    and closes the parent's ends it inherited, so a parent that dies ends the worker's too.
    """
    context = multiprocessing.get_context("fork")
    pipes: list[Connection] = []
    processes: list[BaseProcess] = []
    try:
        for share in range(workers):
            ours, theirs = context.Pipe(duplex=duplex)
            process = context.Process(target=_worker_main, daemon=True,
                                      args=(engine, [*pipes, ours], target, share, theirs, *args))
            process.start()
            theirs.close()
            pipes.append(ours)
            processes.append(process)
    except BaseException:
        stop_processes(processes, pipes)
        raise
    return pipes, processes


def _worker_main(engine: Engine, parents_ends: list[Connection], target: Callable[..., None],
                 share: int, pipe: Connection, *args: Any) -> None:
    for end in parents_ends:
        end.close()
    # what the parent held at the fork (a rebuild's judging workers fork from a parent that
    # has folded the whole ledger) is left out of this process's collections: traversing it
    # would touch, and so copy, every page of it (2026-12-07: the grown ledger's rebuild)
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    use_own_connections(engine)
    try:
        target(share, pipe, *args)
    finally:
        pipe.close()


def stop_processes(processes: list[BaseProcess], pipes: Iterable[Connection] = ()) -> None:
    """Close the parent's ends of the workers' pipes, wait a moment for the workers to finish
    (they do once told, or once their pipe is closed), then stop any still working."""
    for pipe in pipes:
        pipe.close()
    deadline = time.monotonic() + 1
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join()
