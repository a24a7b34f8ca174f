"""The web app under load: p95 server time per page type with concurrent readers while an
import writes, and the server's memory, beside the same pages' reads run alone.

    python bench/web.py [--learners 100000] [--readers 20] [--seconds 30] [--workers 1]
                        [--workdir DIR] [--ledger FILE]

SQLite only so far (a PostgreSQL web user is a database login with a password, which this
bench does not set up). Builds a ledger of N learners through `ledger import`'s code path (or
reuses a kept SQLite ledger, `--ledger`), then:

1. alone (no server, nothing else running): each page's reads through the web's seam
   (`reads.ReportReads`): the dashboard's `summary` and a page of `late_rows`, the first
   (cold: the kept rows brought up to date, if they were not) and then 20 more, each read
   from the database again (what the reads keep is cleared before each), and a learner
   page's reads (the learner's events, the audit trail, the replay and the learner judged
   alone) for 200 random learners;
2. loaded: the app is served by uvicorn in `--workers` processes of their own on one
   listening socket (so their memory is the server's alone), as `ledger serve --workers N`
   makes it (`ledger/web/served.py`: the kept report rows brought up to date in a process
   of their own, `ledger/web/apart.py`); `--readers` processes, as many for each page
   type, request it again and again for `--seconds`: the dashboard, a random page of late
   registrations, a random learner's page as an officer (whose view of personal data is
   recorded, or queued for the access log's writer, before the page is sent: `learner`)
   and as an EQA (no personal data, no view recorded: `learner-eqa`), while another
   process imports 2,000 new learners. The server time of each request (from the
   request to the last byte, measured inside the server by ASGI middleware) gives the median
   and p95 per page type. Once the import has ended, the dashboard is asked for until it
   shows the new digest (the kept rows brought up to date and read again, the last read
   shown meanwhile); the server processes' peak resident memory (VmHWM, over their whole
   life, summed over the processes: an upper bound of their memory together, since the
   peaks need not coincide), their proportional set size together at the end of the run
   (PSS), and their CPU time are printed beside.

Targets (issue 40): dashboard and late-registration pages p95 < 200 ms, learner page p95 <
100 ms, server memory < 300 MB. Each line says met or NOT MET. Timings move with the host:
the run prints `sum(range(1000))`'s time at its start, as bench/run.py does.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import socket
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
TARGETS = {"dashboard": 200.0, "late": 200.0, "learner": 100.0, "learner-eqa": 100.0}
REPORT_PAGES = {"dashboard", "late"}
ROLES = ("officer", "eqa")  # an officer's learner page records the view; an EQA's does not
DIGEST = re.compile(r'<code class="hash">([^<]+)</code>')  # the dashboard's ledger digest


class Timed:
    """ASGI middleware: the server time of each request, by page type, while `measuring`."""

    def __init__(self, app: Any, measuring: Any) -> None:
        self.app, self.measuring = app, measuring
        self.times: dict[str, list[float]] = {kind: [] for kind in TARGETS}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        kind = ("dashboard" if path == "/" else "late" if path == "/late"
                else "learner" if path.startswith("/learners/") else None)
        if kind == "learner" and (b"x-bench-role", b"eqa") in scope.get("headers", []):
            kind = "learner-eqa"  # no personal data: no view to record
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if kind is not None and message["type"] == "http.response.body" and not (
                    message.get("more_body")) and self.measuring.is_set():
                self.times[kind].append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed_send)


def memory_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def serve(url: str, sock: Any, ready: Any, measuring: Any, stop: Any, results: Any) -> None:
    """One server process: the web app as `ledger serve` makes it (`served.served_app`, its
    settings in the environment) on the shared listening socket until `stop`, then its
    request times, memory and CPU into `results`."""
    import uvicorn

    from ledger.web.served import served_app

    web = Timed(served_app(), measuring)
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    ready.put(os.getpid())
    stop.wait()
    server.should_exit = True
    thread.join(30)
    spent = os.times()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    results.put({"times": web.times, **memory_mb(), "pid": os.getpid(),
                 "cpu_s": spent.user + spent.system,
                 "children_cpu_s": children.ru_utime + children.ru_stime,
                 "children_peak_mb": children.ru_maxrss / 1024})


def pss_mb(pids: list[int]) -> float:
    """The proportional set size of these processes together (shared pages counted once
    over all of them), in MB; 0 for one that has gone."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in text.splitlines()
                     if line.startswith("Pss:"))
    return total / 1024


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


def alone(app: Any, learners: int, judging: bool = True) -> dict[str, dict[str, float]]:
    """Each page type's reads through the web's seam, alone: median and p95 in ms (and the
    first, cold read of the report pages, which judges; not `judging`: learner pages only)."""
    from datetime import date

    from ledger.rules.rulesets import load_rulebook
    from ledger.web.reads import report_reads
    from ledger.web.shaping import Options, judge_learner, replay_steps, trail
    from ledger.web.sources import LedgerSource

    source = LedgerSource(app)
    book = load_rulebook()
    reads = report_reads(source, book)
    today = date.today()
    found: dict[str, dict[str, float]] = {}
    report_reads_timed = (("dashboard", lambda: reads.summary(Options(on=today))),
                          ("late", lambda: reads.late_rows(Options(
                              on=today, page=random.randint(1, 20)))))
    cache = getattr(reads, "cache", None)  # KeptReads keeps what it read: not timed here

    def uncached(read: Any) -> Any:
        if cache is not None:
            cache.clear()
        return read()

    for kind, read in report_reads_timed if judging else ():
        times = [timed(lambda read=read: uncached(read)) for _ in range(21)]
        found[kind] = summary_of(times[1:]) | {"cold_ms": times[0]}

    def learner_page() -> None:
        reference = f"L{random.randint(1, learners):05d}"
        _, events = source.learner_events(reference, None, True)
        trail(events, None, source.stamps([position for position, _ in events]))
        replay_steps(events)
        judge_learner(events, book, today)

    found["learner"] = summary_of([timed(learner_page) for _ in range(200)])
    return found


def timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def summary_of(times: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times), "p95_ms": percentile(times, 0.95)}


def logged_in(client: Any, role: str = "officer") -> Any:
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    client.post("/login", data={"csrf": token, "name": f"bench-{role}", "password": PASSWORD})
    client.headers["x-bench-role"] = role
    return client


def warm_up(url: str) -> str:
    """The server's first judgement, before the readers start: a cold start is not a p95.
    The digest it was judged from."""
    import httpx

    with httpx.Client(base_url=url, timeout=1200) as client:
        logged_in(client)
        for path in ("/", "/late"):
            client.get(path).raise_for_status()
        found = DIGEST.search(client.get("/").text)
        return found.group(1) if found else ""


def judged_again(url: str, before: str, timeout: float = 600.0) -> float | None:
    """Once the import has ended: the dashboard again and again until it shows another
    digest than `before` (the server has judged the reports again, with the previous
    judgement still held: the peak of its memory), and how long that took; None if it
    never did."""
    import httpx

    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=timeout) as client:
        logged_in(client)
        while time.monotonic() - started < timeout:
            now = DIGEST.search(client.get("/").text)
            if now is None or now.group(1) != before:
                return time.monotonic() - started
            time.sleep(1.0)
    return None


def reader(url: str, learners: int, seconds: float, errors: list[str], kind: str) -> None:
    """Logs in, then requests one page type again and again for `seconds` (a slow page type
    does not hold back the others' requests, as it would if each reader took every page
    type in turn; a slow login, argon2 on a loaded host, does not shorten the reading)."""
    import httpx

    with httpx.Client(base_url=url, timeout=600) as client:
        logged_in(client, "eqa" if kind == "learner-eqa" else "officer")
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            path = {"dashboard": "/", "late": f"/late?page={random.randint(1, 20)}"}.get(
                kind, f"/learners/L{random.randint(1, learners):05d}")
            response = client.get(path)
            if response.status_code != 200:
                errors.append(f"{path}: {response.status_code}")


def read_for(url: str, learners: int, seconds: float, kind: str) -> list[str]:
    """One reader process: its failed requests."""
    errors: list[str] = []
    reader(url, learners, seconds, errors, kind)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=1,
                        help="Server processes, as `ledger serve --workers N` (default 1).")
    parser.add_argument("--ledger", type=Path, default=None,
                        help="A kept SQLite ledger of --learners learners to reuse.")
    parser.add_argument("--pages", default=",".join(TARGETS),
                        help="The page types to time, comma-separated (default: all). "
                             "Without dashboard and late the server never judges the "
                             "reports: the learner pages are timed without that load.")
    args = parser.parse_args(argv)
    args.pages = [kind.strip() for kind in args.pages.split(",") if kind.strip()]
    if not args.pages or set(args.pages) - set(TARGETS):
        parser.error(f"--pages takes some of {', '.join(TARGETS)}")
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
    from ledger.app import LedgerApp
    from ledger.web.users import add_user
    from tests.browser.conftest import free_port

    app = LedgerApp(url)
    for role in ROLES:
        add_user(app.engine, f"bench-{role}", role, PASSWORD)
    quiet = alone(app, args.learners, judging=bool(REPORT_PAGES & set(args.pages)))
    app.close()
    context = multiprocessing.get_context("spawn")
    ready, measuring, stop = context.Queue(), context.Event(), context.Event()
    results = context.Queue()
    port = free_port()
    from ledger.web.served import serving_environment

    os.environ.update(serving_environment(url, "bench-secret-" + str(port), None, None, True))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    servers = [context.Process(target=serve, args=(url, sock, ready, measuring, stop, results),
                               name=f"ledger-web-bench-server-{number}")
               for number in range(args.workers)]
    for server in servers:
        server.start()
    pids = [ready.get(timeout=600) for _ in servers]
    base = f"http://127.0.0.1:{port}"
    digest = ""
    if REPORT_PAGES & set(args.pages):
        started = time.perf_counter()
        digest = warm_up(base)
        print(f"warm-up: the server's first dashboard and late page took "
              f"{time.perf_counter() - started:.1f} s (not counted below)")
    extra = folder / "web-writer.csv"
    # new learners on every run, so the import writes even into a kept ledger
    write_export(extra, 2_000, prefix=f"W{int(time.time()) % 1_000_000:06d}", seed=7)
    measuring.set()
    writer = subprocess.Popen([sys.executable, "-m", "cli", "--db", url, "--actor", "bench",
                               "import", str(extra)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        # readers in processes of their own, as browsers are
        kinds = args.pages  # as many readers of each page type
        with context.Pool(args.readers) as pool:
            failures = pool.starmap(read_for, [
                (base, args.learners, args.seconds, kinds[number % len(kinds)])
                for number in range(args.readers)])
        written = writer.poll()
    finally:
        writer.wait()
        measuring.clear()
        judged_again_in = judged_again(base, digest) if REPORT_PAGES & set(args.pages) else None
        pss = pss_mb(pids)
        stop.set()
    each = [results.get(timeout=120) for _ in servers]
    for server in servers:
        server.join(60)
    sock.close()
    served = {"times": {kind: [t for one in each for t in one["times"][kind]] for kind in TARGETS},
              "VmHWM": sum(one["VmHWM"] for one in each),
              "VmRSS": sum(one["VmRSS"] for one in each), "pss": pss, "each": each}
    errors = [failure for found in failures for failure in found]
    state = "finished during the run" if written is not None else "still writing at the end"
    print(f"loaded: {args.readers} readers for {args.seconds:.0f} s while an import of 2,000 "
          f"learners wrote ({state}); {len(errors)} failed requests")
    if judged_again_in is not None:
        print(f"after the import: the dashboard showed the new digest {judged_again_in:.1f} s "
              f"after the import ended (the server's judgement of it is in its peak memory)")
    return report(served, quiet, args.pages)


def verdict(times: list[float], met: bool) -> str:
    return "NOT MEASURED (no requests)" if not times else "met" if met else "NOT MET"


def report(served: dict[str, Any], quiet: dict[str, dict[str, float]], pages: list[str]) -> int:
    """One line per page type: loaded figures, target, and the same reads alone."""
    ok = True
    for kind in pages:
        target = TARGETS[kind]
        times = served["times"][kind]
        p95 = percentile(times, 0.95)
        met = bool(times) and p95 < target
        ok &= met
        alone_figures = quiet[kind.removesuffix("-eqa")]
        cold = (f", first (cold: the judgement) {alone_figures['cold_ms']:.0f} ms"
                if kind == "dashboard" else "")
        print(f"{kind:11} {len(times):6} requests  median {statistics.median(times or [0]):7.1f} "
              f"ms  p95 {p95:7.1f} ms  target < {target:.0f} ms: {verdict(times, met)}"
              f"   | its reads alone: median {alone_figures['median_ms']:.1f} ms, p95 "
              f"{alone_figures['p95_ms']:.1f} ms{cold}")
    peak = served["VmHWM"]
    ok &= peak < 300
    each = served["each"]
    peaks = ", ".join(f"{one['VmHWM']:.0f}" for one in each)
    print(f"server memory, {len(each)} process(es): peaks {peaks} MB, "
          f"summed {peak:.0f} MB; together now (PSS, shared pages once) {served['pss']:.0f} MB, "
          f"resident now {served['VmRSS']:.0f} MB (the readers and the writer run in their own "
          f"processes): {'met' if peak < 300 else 'NOT MET'} (< 300 MB, peaks summed)")
    requests = sum(len(times) for times in served["times"].values())
    cpu = sum(one["cpu_s"] for one in each)
    apart = sum(one["children_cpu_s"] for one in each)
    print(f"server CPU: {cpu:.1f} s in the server processes over their whole life "
          f"({requests} timed requests), {apart:.1f} s in the processes they started "
          f"(the kept rows brought up to date), whose largest peaked at "
          f"{max(one['children_peak_mb'] for one in each):.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
