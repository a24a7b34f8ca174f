"""The bench's memory sampler counts a process's children with it."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from bench.memory import TreePeak, pss_kib, tree

pytestmark = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(),
                                reason="PSS is read from /proc (Linux)")


def _hold(megabytes: int, seconds: float) -> None:
    block = bytearray(megabytes * 1024 * 1024)  # zero pages: touch them to make them resident
    for index in range(0, len(block), 4096):
        block[index] = 1
    time.sleep(seconds)


def test_the_peak_counts_a_child_process_memory_with_its_parent() -> None:
    alone = TreePeak(interval=0.02)
    with alone:
        time.sleep(0.2)
    child = multiprocessing.get_context("fork").Process(target=_hold, args=(64, 1.0))
    with TreePeak(interval=0.02) as together:
        child.start()
        time.sleep(0.7)
        assert child.pid in tree(os.getpid())
        assert pss_kib(child.pid or 0) > 60 * 1024
        child.join()
    assert together.peak_mb is not None and alone.peak_mb is not None
    assert together.peak_mb > alone.peak_mb + 60  # the child's 64 MB, counted once


def test_a_process_that_has_gone_counts_nothing() -> None:
    assert pss_kib(2**22 + 12345) == 0  # above the kernel's largest pid
    assert tree(2**22 + 12345) == [2**22 + 12345]
