"""Prefetch: the next item taken in a thread when asked, in order, errors raised where taken."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ledger.bulk.prefetch import Prefetch


class Broken(Exception):
    """Raised by an iterator part way through."""


def numbers(count: int, threads: list[str] | None = None, fail_at: int | None = None,
            pause: float = 0.0) -> Iterator[int]:
    for number in range(count):
        time.sleep(pause)
        if threads is not None:
            threads.append(threading.current_thread().name)
        if number == fail_at:
            raise Broken(f"item {number}")
        yield number


def test_items_come_in_order_whether_or_not_each_is_fetched_ahead() -> None:
    with Prefetch(numbers(6)) as ahead:
        taken = []
        for number in ahead:
            taken.append(number)
            if number % 2:
                ahead.fetch_next()
                ahead.fetch_next()  # a second call does not skip an item
    assert taken == [0, 1, 2, 3, 4, 5]


def test_an_item_fetched_ahead_is_made_in_the_prefetch_thread() -> None:
    threads: list[str] = []
    with Prefetch(numbers(3, threads)) as ahead:
        assert next(ahead) == 0
        ahead.fetch_next()
        assert next(ahead) == 1
        assert next(ahead) == 2
    caller = threading.current_thread().name
    assert threads[0] == caller
    assert threads[1] != caller and threads[1].startswith("prefetch")
    assert threads[2] == caller


def test_an_error_fetching_ahead_is_raised_when_the_item_is_taken() -> None:
    with Prefetch(numbers(5, fail_at=2)) as ahead:
        assert next(ahead) == 0
        assert next(ahead) == 1
        ahead.fetch_next()
        with pytest.raises(Broken, match="item 2"):
            next(ahead)


def test_leaving_waits_for_the_item_being_fetched_so_the_iterator_can_be_closed() -> None:
    items = numbers(3, pause=0.2)
    with Prefetch(items) as ahead:
        assert next(ahead) == 0
        ahead.fetch_next()
    # a generator still running in the thread would refuse: "generator already executing"
    items.close()
    assert list(items) == []
