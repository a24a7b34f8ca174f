"""The peak memory of a process and its children together, sampled as they run (Linux)."""

from __future__ import annotations

import os
import threading
import time
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


def rss_kib(pid: int) -> tuple[int, int]:
    """The process's resident set size in KiB (its shared pages counted in full) and its
    peak since it started its program (VmHWM: not what it had before an exec, as the
    kernel's ru_maxrss would have, the size of the process that forked it); 0s once it
    has gone."""
    found = {}
    try:
        with (PROC / str(pid) / "status").open() as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1])
    except OSError:
        pass
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


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
    """While open, samples the summed PSS (and RSS) of a process and its descendants every
    `interval` seconds in a thread; `peak_mb` is the largest PSS sum seen, `peak_rss_mb` the
    largest RSS sum, `largest_mb` the largest peak of one process alone (all None off
    Linux). The process is this one unless `root` is given; with `stretch` the samples
    thin out as the process runs on.

    Forked workers share their parent's pages: PSS counts each shared page once in all,
    where adding up their resident sizes (RSS) counts it in every process, an upper bound.
    """

    def __init__(self, interval: float = 0.2, root: int | None = None,
                 stretch: float = 0.0, longest: float = 1.0) -> None:
        self.interval, self.stretch, self.longest = interval, stretch, longest
        self.root = os.getpid() if root is None else root
        self.peak_kib = 0
        self.peak_rss_kib = 0
        self.largest_kib = 0
        self.samples = 0
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
        started = time.monotonic()
        while True:
            pids = tree(self.root)
            self.peak_kib = max(self.peak_kib, sum(pss_kib(pid) for pid in pids))
            resident = [rss_kib(pid) for pid in pids]
            self.peak_rss_kib = max(self.peak_rss_kib, sum(now for now, _ in resident))
            self.largest_kib = max(self.largest_kib, *(peak for _, peak in resident))
            self.samples += 1
            if self._stop.wait(self._pause(time.monotonic() - started)):
                return

    def _pause(self, elapsed: float) -> float:
        """Seconds to the next sample: `interval`, or with `stretch` that share of the time
        sampled so far if longer (at most `longest`): reading a large process's page tables
        costs CPU the host's other processes, the measured ones too, would have had."""
        return max(self.interval, min(self.stretch * elapsed, self.longest))

    @property
    def peak_mb(self) -> float | None:
        return self.peak_kib / 1024 if self.supported else None

    @property
    def peak_rss_mb(self) -> float | None:
        return self.peak_rss_kib / 1024 if self.supported else None

    @property
    def largest_mb(self) -> float | None:
        return self.largest_kib / 1024 if self.supported else None
