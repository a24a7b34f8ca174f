"""Start-up: how long a fresh `ledger` process takes, against `python -c pass` in the same run.

    python bench/startup.py [--rounds 9] [--learners 300] [--workdir DIR] [--json]
                            [--against DIR]

Builds a demo ledger (SQLite, the demo centre through the import), then runs each command as
a user does, a new process each time, in alternating rounds after one warm-up round, and
prints each one's median wall time, its excess over `python -c pass` and the ratio, and the
same for the CPU time the process used (user + system). Targets (issue 39), on wall time:
`--help` and `--version` within 0.15 s of `python -c pass`, `ledger audit REF` within
0.35 s, a recording command within 0.4 s. Byte-code is written and read as in a normal
install (PYTHONDONTWRITEBYTECODE is cleared for the commands). On a busy host the wall
figures are noisy and inflated (a process waits for a core): compare the excesses within one
run, look at the spread printed, and at the CPU excess, which waiting does not inflate.

`--against DIR` times the same ledger commands with the code of another checkout as well
(`git worktree add DIR COMMIT`, or `git archive COMMIT | tar -x -C DIR`), in the same rounds,
alternating: both run as `python -m cli` from their own folder, with this environment's
libraries. Its rows are named `... @ DIR`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--version": 0.15, "--help": 0.15, "audit": 0.35, "amend": 0.4}


def ledger_command() -> list[str]:
    """The `ledger` console script beside this Python, else `python -m cli`."""
    script = Path(sys.executable).with_name("ledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def build_ledger(folder: Path, learners: int) -> str:
    """A demo ledger of `learners` learners in `folder`; returns its URL."""
    from ledger.app import LedgerApp
    from ledger.demo import write_demo_files
    from ledger.imports import ImportOptions, import_csv

    url = f"sqlite:///{folder / 'startup.db'}"
    mis, lrs = folder / "centre.csv", folder / "centre-lrs.csv"
    write_demo_files(mis, lrs, learners, 2026)
    app = LedgerApp(url)
    for path in (mis, lrs):
        import_csv(app, path, ImportOptions(actor="bench"))
    app.close()
    return url


HERE = Path(__file__).resolve().parents[1]  # this checkout's root
Command = tuple[list[str], Path | None]  # argv, and the folder it runs in (None: here)


def ledger_commands(ledger: list[str], url: str) -> dict[str, list[str]]:
    """The ledger's commands timed, after `ledger` (the program and its arguments)."""
    database = [*ledger, "--db", url, "--actor", "bench"]
    return {
        "--version": [*ledger, "--version"],
        "--help": [*ledger, "--help"],
        "audit": [*database, "audit", "L00002"],
        "amend": [*database, "amend", "L00002", "--set", "email=bench{round}@example.org",
                  "--reason", "bench"],
    }


def commands(url: str, against: Path | None = None) -> dict[str, Command]:
    """Each command timed, by name: `python -c pass`, this code's, and the other code's."""
    timed: dict[str, Command] = {"python -c pass": ([sys.executable, "-c", "pass"], None)}
    if against is None:
        timed.update({name: (argv, None)
                      for name, argv in ledger_commands(ledger_command(), url).items()})
        return timed
    module = [sys.executable, "-m", "cli"]
    for name, argv in ledger_commands(module, url).items():
        timed[name] = (argv, HERE)
        timed[f"{name} @ {against}"] = (argv, against)
    return timed


def run_once(command: Command, environment: dict[str, str]) -> tuple[float, float]:
    """The wall time and the CPU time (user + system) of one run of the command."""
    argv, folder = command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=environment, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=folder)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


Samples = dict[str, dict[str, list[float]]]  # command: {"wall": [...], "cpu": [...]}


def measure(url: str, rounds: int, against: Path | None = None) -> Samples:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONDONTWRITEBYTECODE", "LEDGER_DB")}
    environment["COLUMNS"] = "120"
    timed = commands(url, against)
    times: Samples = {name: {"wall": [], "cpu": []} for name in timed}
    for number in range(rounds + 1):  # round 0 warms the caches and writes the byte-code
        for index, (name, (argv, folder)) in enumerate(timed.items()):
            tag = f"{number}.{index}"  # each amendment a new value, or nothing is recorded
            argv = [part.replace("{round}", tag) for part in argv]
            wall, cpu = run_once((argv, folder), environment)
            if number:
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
    return times


def summary(times: Samples) -> list[dict[str, object]]:
    baseline = statistics.median(times["python -c pass"]["wall"])
    cpu_baseline = statistics.median(times["python -c pass"]["cpu"])
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples["wall"])
        cpu = statistics.median(samples["cpu"])
        excess = median - baseline
        target = TARGETS.get(name)  # this code's commands only
        rows.append({
            "command": name if name.startswith("python") else f"ledger {name}",
            "median_s": round(median, 4), "min_s": round(min(samples["wall"]), 4),
            "max_s": round(max(samples["wall"]), 4), "excess_s": round(excess, 4),
            "ratio": round(median / baseline, 2), "target_excess_s": target,
            "met": None if target is None else excess <= target,
            "cpu_s": round(cpu, 4), "cpu_excess_s": round(cpu - cpu_baseline, 4),
        })
    return rows


def print_table(rows: list[dict[str, object]], rounds: int) -> None:
    print(f"Start-up, median of {rounds} rounds (fresh processes, demo ledger on SQLite)")
    width = max(len(str(row["command"])) for row in rows)
    print(f"{'command':<{width}} {'median s':>9} {'min-max s':>13} {'- pass s':>9} {'ratio':>6}"
          f" {'cpu s':>6} {'- pass':>7}  target (wall - pass)")
    for row in rows:
        target = row["target_excess_s"]
        verdict = "" if target is None else (
            f"+{target} s {'met' if row['met'] else 'NOT MET'}")
        spread = f"{row['min_s']:.3f}-{row['max_s']:.3f}"
        print(f"{row['command']:<{width}} {row['median_s']:>9.3f} {spread:>13} "
              f"{row['excess_s']:>9.3f} {row['ratio']:>6.2f} {row['cpu_s']:>6.3f} "
              f"{row['cpu_excess_s']:>7.3f}  {verdict}")
    print(f"host: sum(range(1000)) in {host_speed_us():.1f} µs, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def host_speed_us() -> float:
    """The best of five timings of `sum(range(1000))`, in µs: the host's speed, as the other
    benches print it."""
    import timeit

    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    parser.add_argument("--against", type=Path, default=None,
                        help="Also time the code of this checkout, alternating.")
    options = parser.parse_args()
    if options.rounds < 1 or options.learners < 2:
        parser.error("--rounds must be 1 or more and --learners 2 or more")
    if options.against and not (options.against / "cli" / "__main__.py").is_file():
        parser.error(f"--against {options.against}: no checkout of the ledger there")
    with tempfile.TemporaryDirectory(dir=options.workdir) as folder:
        print("building the demo ledger...", file=sys.stderr)
        url = build_ledger(Path(folder), options.learners)
        print(f"timing {options.rounds} rounds...", file=sys.stderr)
        rows = summary(measure(url, options.rounds, options.against))
    if options.json:
        print(json.dumps({"rounds": options.rounds, "commands": rows,
                          "against": str(options.against or "") or None}, indent=2))
    else:
        print_table(rows, options.rounds)


if __name__ == "__main__":
    main()
