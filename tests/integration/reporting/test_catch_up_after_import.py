"""A large import brings the report tables up to date in the same run, on several cores, and
a catch-up killed half way leaves reports that the next one finishes right."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.app import LedgerApp
from ledger.bulk import workers as bulk_workers
from ledger.demo import write_demo_files
from ledger.imports import ImportOptions, import_csv
from ledger.reporting import rebuild as rebuild_module
from ledger.reporting.rebuild import bring_reports_up_to_date, catch_up_all, rebuild
from ledger.reporting.reports import (
    ReportsView,
    catch_up,
    current_timelines,
    last_position,
    open_view,
)
from tests.integration.reporting.test_reports_incremental import SeenProgress

ROOT = Path(__file__).resolve().parents[3]


def imported_then_cleared(app: LedgerApp, folder: Path) -> tuple[ReportsView, list[Any]]:
    """A demo centre imported, its reports rebuilt (what a catch-up must give) and cleared."""
    import_csv(app, demo_centre(folder, 60), ImportOptions(actor="importer"))
    view = open_view(app)
    rebuild(app, view, workers=1)
    expected = list(view.rows())
    view.clear(app.name)
    return view, expected


def demo_centre(folder: Path, learners: int) -> Path:
    mis, events = folder / "centre.csv", folder / "centre-lrs.csv"
    write_demo_files(mis, events, learners, seed=7)
    return mis


def test_an_import_leaves_the_reports_caught_up_folded_in_parallel_as_a_rebuild_folds(
    make_app: Callable[[], LedgerApp], db_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk_workers, "PARALLEL_FROM", 100)  # a large import, in small
    monkeypatch.setattr(rebuild_module, "REBUILD_PAGE_SIZE", 150)  # windows of positions
    imported = CliRunner().invoke(cli, ["--db", db_url, "import",
                                        str(demo_centre(tmp_path, 120))])
    assert imported.exit_code == 0, imported.output
    app = make_app()
    view = open_view(app)
    assert view.max_tracking_id(app.name) == last_position(app) > 4 * 150
    caught_up = list(view.rows())
    assert current_timelines(app) == (caught_up, last_position(app))  # nothing left to do
    rebuild(app, view, workers=1)
    assert list(view.rows()) == caught_up


def test_bringing_the_reports_up_to_date_after_an_import_shows_its_progress(
    make_app: Callable[[], LedgerApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk_workers, "PARALLEL_FROM", 100)
    monkeypatch.setattr(rebuild_module, "REBUILD_PAGE_SIZE", 150)
    app = make_app()
    import_csv(app, demo_centre(tmp_path, 60), ImportOptions(actor="importer"))
    assert open_view(app).max_tracking_id(app.name) is None  # the library call only imports
    seen = SeenProgress()
    assert bring_reports_up_to_date(app, seen) > 0
    assert seen.phases == [("Reports", last_position(app))]
    assert seen.updates[-1][0] == last_position(app)


def test_a_catch_up_of_a_large_gap_takes_the_parallel_path_from_where_the_reports_are(
    make_app: Callable[[], LedgerApp], tmp_path: Path,
) -> None:
    app = make_app()
    view, expected = imported_then_cleared(app, tmp_path)
    halfway = last_position(app) // 2
    catch_up(app, view, limit=halfway)
    started = view.max_tracking_id(app.name) or 0
    seen = SeenProgress()
    assert catch_up_all(app, view, seen, workers=2, page=40) > 0
    assert seen.phases[0] == ("Reports", last_position(app) - started)
    assert list(view.rows()) == expected


KILLED_CATCH_UP = textwrap.dedent("""
    import os, signal, sys
    from ledger.app import LedgerApp
    from ledger.reporting.rebuild import catch_up_all
    from ledger.reporting.reports import open_view

    class KillAfterTwoWindows:
        def __init__(self):
            self.windows = 0
        def start(self, phase, total):
            pass
        def update(self, completed, rows):
            self.windows += 1
            if self.windows == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    app = LedgerApp(sys.argv[1])
    catch_up_all(app, open_view(app), KillAfterTwoWindows(), workers=2, page=50)
""")


def test_a_catch_up_killed_half_way_leaves_reports_the_next_report_finishes_right(
    make_app: Callable[[], LedgerApp], db_url: str, tmp_path: Path,
) -> None:
    app = make_app()
    view, expected = imported_then_cleared(app, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", KILLED_CATCH_UP, db_url], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    done = view.max_tracking_id(app.name) or 0
    assert 0 < done < last_position(app)  # two windows written, and no more
    assert current_timelines(app)[0] == expected
