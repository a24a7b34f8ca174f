"""The report pages' judgement made in a process of its own, for a server.

Reading 100,000 learners' kept report rows into the rows and findings the pages show takes
seconds of CPU and leaves the memory it used scattered with what it keeps (the database's
rows, the strings read and let go). In the server, that CPU is taken from the pages (one
interpreter lock) and that memory stays with the server. Made in a process of its own, the
judgement is handed back as one pickle (equal strings and dates shared, as `Shared` made
them) and the server only unpickles it: its pages keep their time, and its memory grows by
what it keeps. The process is spawned (not forked: the server has threads and connections)
and opens the ledger as the server does (same URL, same environment).
"""

from __future__ import annotations

import multiprocessing
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregates.errors import LedgerError
from ledger.rules.rulesets import RuleBook
from projections.late_registrations import RegistrationRow
from projections.maladministration import Finding

if TYPE_CHECKING:
    from ledger.app import LedgerApp
    from ledger.web.sources import KeptReports


ROW_FIELDS = tuple(field.name for field in fields(RegistrationRow))
FINDING_FIELDS = tuple(field.name for field in fields(Finding))


class JudgementFailed(LedgerError):
    """The process that judges the reports stopped without a result."""


def kept_reports_apart(url: str, book: RuleBook, on: date, awarding_body: str | None,
                       centre: str | None,
                       release: Callable[[], None] | None = None) -> KeptReports | None:
    """`LedgerSource.kept_reports` run in a spawned process; its domain error raised here.
    `release` is called once the process has judged them, before they are loaded."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="ledger-web-") as folder:
        out = Path(folder) / "judged.pickle"
        process = context.Process(target=judge, name="ledger-web-judge", daemon=True,
                                  args=(url, book, on, awarding_body, centre, str(out)))
        process.start()
        process.join()
        if process.exitcode != 0 or not out.exists():
            raise JudgementFailed(f"the reports could not be judged (the judging process "
                                  f"ended with {process.exitcode}); see the server's log")
        if release is not None:
            release()
        with out.open("rb") as file:
            found = pickle.load(file)
    if isinstance(found, LedgerError):
        raise found
    return None if found is None else unpacked(found)


def judge(url: str, book: RuleBook, on: date, awarding_body: str | None, centre: str | None,
          out: str) -> None:
    """The spawned process: the kept reports (or the domain error) pickled into `out`."""
    from ledger.app import LedgerApp
    from ledger.web.sources import LedgerSource

    def kept(app: LedgerApp) -> object:
        found = LedgerSource(app).kept_reports(book, on, awarding_body, centre)
        return None if found is None else packed(found)

    _answer(LedgerApp(url), kept, out)


def _answer(app: LedgerApp, work: Callable[[LedgerApp], object], out: str) -> None:
    """In a spawned process: what `work` gives (or its domain error) pickled into `out`, the
    application closed after."""
    try:
        try:
            found = work(app)
        except LedgerError as error:
            found = error if _round_trips(error) else JudgementFailed(str(error))
        with open(out, "wb") as file:
            pickle.dump(found, file, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        app.close()


def _round_trips(error: LedgerError) -> bool:
    """True when the error can be unpickled as it was (not every error's arguments can)."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # any failure means: send its words instead
        return False
    return True


def packed(kept: KeptReports) -> tuple[Any, ...]:
    """The reports as tuples of their fields (each object rebuilt by its class in the server
    keeps its fields as a class's instances do: unpickled as it is, each would carry a
    dict of its own, 500 bytes more a row)."""
    return (kept.unjudged, kept.digest, kept.position, kept.centres,
            [tuple(getattr(row, name) for name in ROW_FIELDS) for row in kept.rows],
            [tuple(getattr(found, name) for name in FINDING_FIELDS) for found in kept.findings])


def unpacked(found: tuple[Any, ...]) -> KeptReports:
    from ledger.web.sources import KeptReports

    unjudged, digest, position, centres, rows, findings = found
    return KeptReports([RegistrationRow(*row) for row in rows], unjudged,
                       [Finding(*item) for item in findings], digest, position, centres)


def refresh_apart(url: str, book: RuleBook, on: date | None) -> None:
    """The kept report rows brought up to date (`kept_reads.refresh_here`) in a spawned
    process: the timelines caught up, the learners that moved judged again, dated rows kept
    for `on` when given. Nothing comes back but whether it worked (its domain error, raised
    here): the pages read the rows it wrote."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="ledger-web-") as folder:
        out = Path(folder) / "refreshed.pickle"
        process = context.Process(target=refresh, name="ledger-web-rows", daemon=True,
                                  args=(url, book, on, str(out)))
        process.start()
        process.join()
        if process.exitcode != 0 or not out.exists():
            raise JudgementFailed(f"the report rows could not be brought up to date (the "
                                  f"process ended with {process.exitcode}); see the server's "
                                  "log")
        with out.open("rb") as file:
            found = pickle.load(file)
    if isinstance(found, LedgerError):
        raise found


def refresh(url: str, book: RuleBook, on: date | None, out: str) -> None:
    """The spawned process: the refresh, then None (or its domain error) pickled into `out`."""
    from ledger.app import LedgerApp
    from ledger.web.kept_reads import refresh_here

    _answer(LedgerApp(url), lambda app: refresh_here(app, book, on), out)
