"""The web app under load: p95 server time of its pages with concurrent readers while an
import writes, beside the same pages' reads run alone.

    python bench/web.py [--learners 100000] [--readers 20] [--seconds 30]
                        [--workdir DIR] [--ledger FILE]

SQLite only so far (a PostgreSQL web user is a database login with a password, which this
bench does not set up). Builds a ledger of N learners through `ledger import`'s code path (or
reuses a kept SQLite ledger, `--ledger`), then:

1. alone: the dashboard's and late-registration page's judgement (`Reports.judged`, the
   late-registration and maladministration reports over every timeline) timed once, cold,
   and a learner page's read (`LedgerSource.learner_events` and the trail) for 200 random
   learners, median and p95;
2. loaded: uvicorn serves the app on 127.0.0.1; `--readers` processes, each logged in as an
   officer, request the dashboard, a page of late registrations and a random learner's page
   in turn for `--seconds`, while another process imports 2,000 new learners. The server
   time of each request (from the request to the last byte, measured inside the app) gives
   the median and p95 per page; the process's peak memory (RSS) is printed beside.

Targets (issue 40): dashboard and late-registration pages p95 < 200 ms, learner page p95 <
100 ms, server memory < 300 MB. Each line says met or NOT MET. Timings move with the host:
the run prints `sum(range(1000))`'s time at its start, as bench/run.py does.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import host_speed_us, work_folder, write_export  # noqa: E402

PASSWORD = "bench-password-1"
TARGETS = {"dashboard": 200.0, "late": 200.0, "learner": 100.0}


class Timed:
    """ASGI middleware: the server time of each request, by page kind."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {"dashboard": [], "late": [], "learner": []}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        kind = ("dashboard" if path == "/" else "late" if path == "/late"
                else "learner" if path.startswith("/learners/") else None)
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            # the last byte sent: work the app does after it (the access-log event, written
            # in a background task) is not the page's time
            if kind is not None and message["type"] == "http.response.body" and not (
                    message.get("more_body")):
                self.times[kind].append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed_send)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def build(url: str, learners: int, folder: Path) -> None:
    from ledger.app import LedgerApp
    from ledger.imports.runner import ImportOptions, import_csv

    export = folder / "web-export.csv"
    write_export(export, learners)
    app = LedgerApp(url)
    started = time.perf_counter()
    import_csv(app, str(export), ImportOptions(actor="bench"))
    print(f"built {learners} learners in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    app.close()


def alone(app: Any, learners: int) -> dict[str, float]:
    from datetime import date

    from ledger.reporting.reports import catch_up, open_view
    from ledger.rules.rulesets import load_rulebook
    from ledger.web.shaping import Options, Reports, trail
    from ledger.web.sources import LedgerSource

    source = LedgerSource(app)
    started = time.perf_counter()
    catch_up(app, open_view(app))
    caught_up_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    Reports(source, load_rulebook()).judged(Options(on=date.today()))
    judged_ms = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(200):
        reference = f"L{random.randint(1, learners):05d}"
        started = time.perf_counter()
        _, events = source.learner_events(reference, None, True)
        trail(events, None)
        times.append((time.perf_counter() - started) * 1000)
    return {"catch_up_ms": caught_up_ms, "judgement_ms": judged_ms,
            "learner_median_ms": statistics.median(times),
            "learner_p95_ms": percentile(times, 0.95)}


def logged_in(client: Any) -> Any:
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    client.post("/login", data={"csrf": token, "name": "bench-officer", "password": PASSWORD})
    return client


def warm_up(url: str) -> None:
    """The server's first judgement, before the readers start: a cold start is not a p95."""
    import httpx

    with httpx.Client(base_url=url, timeout=1200) as client:
        logged_in(client)
        for path in ("/", "/late"):
            client.get(path).raise_for_status()


def reader(url: str, learners: int, until: float, errors: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as client:
        logged_in(client)
        turn = 0
        while time.monotonic() < until:
            path = ("/", f"/late?page={random.randint(1, 20)}",
                    f"/learners/L{random.randint(1, learners):05d}")[turn % 3]
            response = client.get(path)
            if response.status_code != 200:
                errors.append(f"{path}: {response.status_code}")
            turn += 1


def read_for(url: str, learners: int, seconds: float) -> list[str]:
    """One reader process: its failed requests."""
    errors: list[str] = []
    reader(url, learners, time.monotonic() + seconds, errors)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--ledger", type=Path, default=None,
                        help="A kept SQLite ledger of --learners learners to reuse.")
    args = parser.parse_args(argv)
    if args.learners < 1 or args.readers < 1 or args.seconds <= 0:
        parser.error("--learners, --readers and --seconds must be positive")
    print(f"host: sum(range(1000)) in {host_speed_us():.1f} µs", file=sys.stderr)
    with work_folder(args.workdir) as folder:
        if args.ledger is not None and args.ledger.exists():
            url = f"sqlite:///{args.ledger}"
        else:
            path = args.ledger or folder / "web-bench.db"
            url = f"sqlite:///{path}"
            build(url, args.learners, folder)
        return run(url, args, folder)


def run(url: str, args: argparse.Namespace, folder: Path) -> int:
    import uvicorn

    from ledger.app import LedgerApp
    from ledger.rules.rulesets import load_rulebook
    from ledger.web.routes import create_app
    from ledger.web.sources import LedgerSource
    from ledger.web.users import add_user
    from tests.browser.conftest import free_port

    app = LedgerApp(url)
    add_user(app.engine, "bench-officer", "officer", PASSWORD)
    quiet = alone(app, args.learners)
    print(f"alone: reports caught up in {quiet['catch_up_ms']:.0f} ms, then judged (the "
          f"dashboard's and late page's reads) in {quiet['judgement_ms']:.0f} ms; a learner "
          f"page's read median {quiet['learner_median_ms']:.1f} ms, "
          f"p95 {quiet['learner_p95_ms']:.1f} ms")
    web = Timed(create_app(LedgerSource(app), load_rulebook(), secure_cookies=False))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    started = time.perf_counter()
    warm_up(f"http://127.0.0.1:{port}")
    print(f"warm-up: the server's first judgement took {time.perf_counter() - started:.1f} s "
          "(not counted below)")
    web.times = {kind: [] for kind in web.times}
    extra = folder / "web-writer.csv"
    # new learners on every run, so the import writes even into a kept ledger
    write_export(extra, 2_000, prefix=f"W{int(time.time()) % 1_000_000:06d}", seed=7)
    writer = subprocess.Popen([sys.executable, "-m", "cli", "--db", url, "--actor", "bench",
                               "import", str(extra)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    # readers in processes of their own, as browsers are: client threads in the server's
    # process would take its interpreter lock and add their time to the server's
    with multiprocessing.get_context("spawn").Pool(args.readers) as pool:
        failures = pool.starmap(read_for, [(f"http://127.0.0.1:{port}", args.learners,
                                            args.seconds)] * args.readers)
    errors = [failure for found in failures for failure in found]
    written = writer.poll()
    writer.wait()
    server.should_exit = True
    thread.join(10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    state = "finished during the run" if written is not None else "still writing at the end"
    print(f"loaded: {args.readers} readers for {args.seconds:.0f} s while an import of 2,000 "
          f"learners wrote ({state}); {len(errors)} failed requests")
    ok = True
    for kind, target in TARGETS.items():
        times = web.times[kind]
        p95 = percentile(times, 0.95)
        met = p95 < target
        ok &= met
        print(f"{kind:9} {len(times):6} requests  median {statistics.median(times or [0]):7.1f} "
              f"ms  p95 {p95:7.1f} ms  target < {target:.0f} ms: {'met' if met else 'NOT MET'}")
    print(f"server process peak RSS {peak:.0f} MB (the readers run in their own processes): "
          f"{'met' if peak < 300 else 'NOT MET'} (< 300 MB)")
    app.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
