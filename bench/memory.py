"""The peak memory of a process and its children together, sampled as they run (Linux)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")


def tree(pid: int) -> list[int]:
    """The process and every live descendant (children of any of its threads)."""
    found = [pid]
    for children in (PROC / str(pid) / "task").glob("*/children"):
        try:
            kids = children.read_text().split()
        except OSError:  # the thread or process has gone
            continue
        for kid in kids:
            found += tree(int(kid))
    return found


def pss_kib(pid: int) -> int:
    """The process's proportional set size in KiB (its own pages, plus its share of the pages
    it shares with others), or 0 once it has gone."""
    try:
        with (PROC / str(pid) / "smaps_rollup").open() as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreePeak:
    """While open, samples the summed PSS of this process and its descendants every
    `interval` seconds in a thread; `peak_mb` is the largest sum seen (None off Linux).

    Forked workers share their parent's pages: PSS counts each shared page once in all,
    where adding up their resident sizes would count it in every process.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_kib = 0
        self.supported = (PROC / str(os.getpid()) / "smaps_rollup").exists()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreePeak:
        if self.supported:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self.supported:
            self._thread.join()

    def _sample(self) -> None:
        me = os.getpid()
        while True:
            self.peak_kib = max(self.peak_kib, sum(pss_kib(pid) for pid in tree(me)))
            if self._stop.wait(self.interval):
                return

    @property
    def peak_mb(self) -> float | None:
        return self.peak_kib / 1024 if self.supported else None
