"""Shares of work run in forked processes: results in order, errors raised, streams stopped."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from aggregates.errors import LedgerError
from ledger.bulk.workers import (
    STREAM_NICENESS,
    WorkerFailed,
    run_fed_shares,
    run_shares,
    stream_shares,
)


class ShareRefused(LedgerError):
    """A refusal raised in a worker, to be raised again in the parent."""


class Unpicklable(Exception):
    """An error that cannot cross to the parent as it is: it holds a lambda."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.callback = lambda: None


class Recording:
    """A progress display that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, phase: str, total: int) -> None:
        self.calls.append(("start", phase, total))

    def update(self, completed: int, rows: int) -> None:
        self.calls.append(("update", completed, rows))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'workers.db'}")
    yield engine
    engine.dispose()


def no_workers_left(seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while multiprocessing.active_children():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_run_shares_returns_each_shares_result_in_share_order_from_its_own_process(engine):
    def work(share, progress):
        time.sleep(0.05 * (3 - share))  # the last share finishes first
        progress.update(100 * (share + 1), share + 1)
        return share * 10, os.getpid()

    results = run_shares(work, 3, engine, Recording(), "a test worker")
    assert [value for value, _ in results] == [0, 10, 20]
    pids = {pid for _, pid in results}
    assert len(pids) == 3 and os.getpid() not in pids
    assert no_workers_left()


def test_the_parent_shows_the_least_progress_any_worker_has_made(engine):
    progress = Recording()

    def work(share, shown):
        shown.update(100 * (share + 1), share + 1)
        return share

    run_shares(work, 3, engine, progress, "a test worker")
    updates = [call for call in progress.calls if call[0] == "update"]
    assert updates and updates[-1] == ("update", 100, 1)
    assert all(completed <= 100 and rows <= 1 for _, completed, rows in updates)


def test_an_error_raised_in_one_share_is_raised_in_the_parent_with_its_type_and_message(
    engine,
):
    def work(share, progress):
        if share == 1:
            raise ShareRefused(f"share {share} refuses")
        return share

    with pytest.raises(ShareRefused, match=r"^share 1 refuses$"):
        run_shares(work, 2, engine, Recording(), "a test worker")
    assert no_workers_left()


def test_a_value_error_in_a_worker_keeps_its_type_in_the_parent(engine):
    def work(share, progress):
        raise ValueError(f"bad value in share {share}")

    with pytest.raises(ValueError, match=r"bad value in share \d"):
        run_shares(work, 2, engine, Recording(), "a test worker")


def test_an_error_that_cannot_be_pickled_arrives_as_worker_failed_naming_the_worker(engine):
    def work(share, progress):
        raise Unpicklable("holds a lambda")

    with pytest.raises(WorkerFailed,
                       match=r"^a test worker failed: Unpicklable: holds a lambda$"):
        run_shares(work, 2, engine, Recording(), "a test worker")


def test_a_worker_that_dies_gives_worker_failed_stopped_unexpectedly(engine):
    def work(share, progress):
        if share == 0:
            os._exit(3)
        return share

    with pytest.raises(WorkerFailed, match=r"^a test worker process stopped unexpectedly$"):
        run_shares(work, 2, engine, Recording(), "a test worker")
    assert no_workers_left()


def test_fed_shares_get_their_own_items_of_each_step_in_order_and_return_in_share_order(
    engine,
):
    def work(share, items, progress):
        got = list(items)
        progress.update(len(got), len(got))
        return share, got, os.getpid()

    feed = ([f"{share}-{step}" for share in range(3)] for step in range(50))
    results = run_fed_shares(work, feed, 3, engine, Recording(), "a fed worker")
    assert [(share, got) for share, got, _ in results] == [
        (share, [f"{share}-{step}" for step in range(50)]) for share in range(3)]
    assert len({pid for _, _, pid in results} | {os.getpid()}) == 4
    assert no_workers_left()


def test_fed_workers_start_on_the_first_items_while_the_feed_is_still_being_made(
    engine, tmp_path
):
    started = tmp_path / "started"

    def work(share, items, progress):
        for _item in items:
            started.touch()
        return share

    def feed():
        yield ["first", "first"]
        deadline = time.monotonic() + 10
        while not started.exists():  # a feed sent only at its end would never see it
            assert time.monotonic() < deadline, "no worker took the first items"
            time.sleep(0.01)
        yield ["second", "second"]

    assert run_fed_shares(work, feed(), 2, engine, Recording(), "a fed worker") == [0, 1]


def test_an_error_in_a_fed_worker_is_raised_while_the_parent_has_more_to_send(engine):
    """The worker stops taking items: the parent, which would block sending the rest, stops
    feeding and raises the worker's error."""
    def work(share, items, progress):
        for item in items:
            if share == 1:
                raise ShareRefused(f"share {share} refuses {item[:3]}")
        return share

    big = "x" * 200_000  # more than a pipe holds: a send blocks until the worker reads it
    feed = ([f"{step}{big}"] * 2 for step in range(100))
    with pytest.raises(ShareRefused, match=r"^share 1 refuses 0xx$"):
        run_fed_shares(work, feed, 2, engine, Recording(), "a fed worker")
    assert no_workers_left()


def test_a_fed_worker_that_dies_gives_worker_failed(engine):
    def work(share, items, progress):
        for _ in items:
            if share == 0:
                os._exit(3)
        return share

    feed = (["y" * 100_000] * 2 for _ in range(100))
    with pytest.raises(WorkerFailed, match=r"^a fed worker process stopped unexpectedly$"):
        run_fed_shares(work, feed, 2, engine, Recording(), "a fed worker")
    assert no_workers_left()


def test_an_error_making_the_feed_is_raised_and_stops_the_fed_workers(engine):
    def work(share, items, progress):
        return sum(1 for _ in items)

    def feed():
        yield [1, 2]
        raise ShareRefused("the file cannot be read")

    with pytest.raises(ShareRefused, match=r"^the file cannot be read$"):
        run_fed_shares(work, feed(), 2, engine, Recording(), "a fed worker")
    assert no_workers_left()


def test_stream_shares_yields_each_step_with_the_shares_items_in_share_order(engine):
    def work(share):
        for step in range(4):
            time.sleep(0.01 * (2 - share))
            yield f"{share}-{step}"

    steps = list(stream_shares(work, 3, engine, "a streaming worker"))
    assert steps == [[f"{share}-{step}" for share in range(3)] for step in range(4)]
    assert no_workers_left()


def test_streaming_workers_run_at_a_lower_priority_than_the_caller_that_stores(engine):
    def work(share):
        yield os.getpriority(os.PRIO_PROCESS, 0)

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    (theirs,) = list(stream_shares(work, 2, engine, "a streaming worker"))
    assert theirs == [min(ours + STREAM_NICENESS, 19)] * 2
    assert os.getpriority(os.PRIO_PROCESS, 0) == ours  # the caller keeps its own


def test_a_stream_with_no_items_yields_no_steps(engine):
    assert list(stream_shares(lambda share: iter(()), 2, engine, "a streaming worker")) == []


def test_a_share_that_makes_fewer_items_than_the_others_gives_worker_failed(engine):
    def work(share):
        yield from range(3 if share == 0 else 2)

    stream = stream_shares(work, 2, engine, "a streaming worker")
    assert next(stream) == [0, 0]
    assert next(stream) == [1, 1]
    with pytest.raises(WorkerFailed, match=r"^a streaming worker made fewer items than the "
                                           r"others$"):
        next(stream)
    assert no_workers_left()


def test_closing_a_stream_early_leaves_no_worker_process_alive(engine):
    def work(share):
        for step in itertools.count():
            yield (share, step, b"x" * 1000)  # endless: only closing the stream stops it

    stream = stream_shares(work, 2, engine, "a streaming worker")
    first = next(stream)
    assert [(share, step) for share, step, _ in first] == [(0, 0), (1, 0)]
    assert len(multiprocessing.active_children()) == 2
    started = time.monotonic()
    stream.close()
    assert no_workers_left()
    assert time.monotonic() - started < 5


def test_an_error_in_a_streaming_worker_is_raised_in_the_parent(engine):
    def work(share):
        yield share
        if share == 1:
            raise ShareRefused("the second item of share 1 is bad")
        yield share

    stream = stream_shares(work, 2, engine, "a streaming worker")
    assert next(stream) == [0, 1]
    with pytest.raises(ShareRefused, match="second item of share 1"):
        next(stream)
    assert no_workers_left()


def test_an_unpicklable_error_in_a_streaming_worker_arrives_as_worker_failed(engine):
    def work(share):
        raise Unpicklable("no pickle")
        yield share  # a generator

    with pytest.raises(WorkerFailed, match="a streaming worker failed: Unpicklable: no pickle"):
        list(stream_shares(work, 2, engine, "a streaming worker"))


def test_an_item_that_cannot_be_pickled_fails_the_stream_instead_of_hanging_it(engine):
    def work(share):
        yield share
        yield memoryview(b"not picklable")

    stream = stream_shares(work, 2, engine, "a streaming worker")
    assert next(stream) == [0, 1]
    with pytest.raises(TypeError, match="memoryview"):
        next(stream)
    assert no_workers_left()


def test_a_result_that_cannot_be_pickled_arrives_as_an_error(engine):
    def work(share, progress):
        return memoryview(b"not picklable")

    with pytest.raises(TypeError, match="memoryview"):
        run_shares(work, 2, engine, Recording(), "a checking worker")
