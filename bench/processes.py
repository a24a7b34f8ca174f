"""A `ledger` command run as a user runs it, a fresh process: its wall time, the CPU seconds
of it and every worker it started, and the peak memory of all of them together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import BENCH_KEY
from bench.memory import TreePeak

SAMPLE_SECONDS = 0.05  # how often the process tree's memory is read from /proc at first,
SAMPLE_STRETCH = 0.02  # then every 2% of the time so far (every 0.2 s after 10 s),
SAMPLE_LONGEST = 1.0  # at most a second apart
TIMEOUT_SECONDS = 900.0  # a command still running then is stopped and reported as such


@dataclass(frozen=True)
class Timed:
    """One command's run: wall and CPU seconds (user and system, the process and the workers
    it waited for), peak memory (PSS and RSS summed over the process tree as sampled, and
    the largest process's own peak RSS), its exit status, the bytes it printed on its
    standard output and the end of what it printed on its standard error."""

    command: list[str]
    seconds: float
    cpu_seconds: float
    peak_mb: float | None
    peak_rss_sum_mb: float | None
    largest_mb: float | None
    exit_code: int
    output_bytes: int
    timed_out: bool
    samples: int
    error: str

    @property
    def failed(self) -> bool:
        return self.timed_out or self.exit_code != 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ledger_executable() -> list[str]:
    """The `ledger` console script beside this Python, else `python -m cli`."""
    script = Path(sys.executable).with_name("ledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def ledger_environment() -> dict[str, str]:
    """The environment a bench's `ledger` runs in: the bench master key unless one is set,
    no key file, no default database (each command names its own), a fixed width."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("LEDGER_MASTER_KEY_FILE", "LEDGER_DB",
                                  "PYTHONDONTWRITEBYTECODE")}
    environment.setdefault("LEDGER_MASTER_KEY", BENCH_KEY)
    environment["COLUMNS"] = "120"
    return environment


def run_ledger(url: str, arguments: list[str], output: Path,
               timeout: float = TIMEOUT_SECONDS) -> Timed:
    """Run `ledger --db URL --actor bench ARGUMENTS...` with its standard output in `output`
    (a file, as a user redirects a report), and time it; a command that fails or runs past
    `timeout` seconds (then stopped) is reported as such, not raised. The memory is sampled
    from this process every SAMPLE_SECONDS, thinning out as the command runs on (a reading
    of a large process costs a few milliseconds of CPU); a process's own peak (VmHWM) is kept by the
    kernel, so the largest is exact but for the last SAMPLE_SECONDS of each process."""
    command = [*ledger_executable(), "--db", url, "--actor", "bench", *arguments]
    errors = output.with_name(output.name + ".stderr")
    with output.open("wb") as sink, errors.open("wb") as error_sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=error_sink,
                                   env=ledger_environment(), start_new_session=True)
        with TreePeak(SAMPLE_SECONDS, process.pid, SAMPLE_STRETCH, SAMPLE_LONGEST) as memory:
            status, usage, timed_out = _wait(process, timeout)
        seconds = time.perf_counter() - started
    said = errors.read_text(errors="replace")[-2000:]
    errors.unlink()
    return Timed(command=[*arguments], seconds=seconds,
                 cpu_seconds=usage.ru_utime + usage.ru_stime, peak_mb=memory.peak_mb,
                 peak_rss_sum_mb=memory.peak_rss_mb, largest_mb=memory.largest_mb,
                 exit_code=os.waitstatus_to_exitcode(status),
                 output_bytes=output.stat().st_size, timed_out=timed_out,
                 samples=memory.samples, error=said)


def _wait(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any, bool]:
    """Wait for the process (killing it and its workers, its session, after `timeout` s);
    its wait status and its resource usage with that of the workers it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, False
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)  # the command and any worker it started
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, True
        time.sleep(0.005)
