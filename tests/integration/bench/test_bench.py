"""The benchmark script runs end to end at a tiny size, so it cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from bench.steps import commands, importing, incremental

BENCH = Path(__file__).resolve().parents[3] / "bench" / "run.py"


def load_script(name: str):  # type: ignore[no-untyped-def]
    """A script of bench/ loaded as a module."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH.parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_bench():  # type: ignore[no-untyped-def]
    return load_script("run")


def test_the_bench_measures_every_step_on_a_tiny_sqlite_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    report = bench.main(["--learners", "50", "--backend", "sqlite", "--samples", "20",
                         "--mode", "standard", "--workdir", str(tmp_path)])
    sqlite = report["backends"]["sqlite"]
    assert report["learners"] == 50 and report["cpus"] >= 1
    assert len(report["host_speed_us"]) == 2 and min(report["host_speed_us"]) > 0
    assert len(report["load"]) == 2
    assert sqlite["import"]["events"] > 50 * 5
    # the rate counts learner events, as the CLI does; the index's two a learner beside them
    imported = sqlite["import"]
    assert imported["index_events"] == 2 * 50
    assert imported["events"] == imported["learner_events"] + imported["index_events"]
    assert imported["rate"] == pytest.approx(imported["learner_events"] / imported["seconds"])
    assert imported["stored_rate"] == pytest.approx(imported["events"] / imported["seconds"])
    # SQLite's plain executemany at its defaults, beside the other baselines, file removed
    assert len(imported["raw_defaults_rates"]) == importing.RAW_ROUNDS
    assert min(imported["raw_defaults_rates"]) > 0
    assert not list(tmp_path.glob(f"{importing.DEFAULTS_FILE}*"))
    assert sqlite["import"]["raw_rate"] > 0 and sqlite["import"]["raw_in_ledger_rate"] > 0
    assert not list(tmp_path.glob(f"{importing.RAW_FILE}*"))  # the raw insert's file is removed
    rounds = sqlite["import"]["raw_rates"]
    assert len(rounds) == importing.RAW_ROUNDS and sorted(rounds)[len(rounds) // 2] == (
        pytest.approx(sqlite["import"]["raw_rate"]))  # the ratio takes the median round
    # each round is timed to the end of its checkpoint, as the import is; without it, faster
    checkpoints = sqlite["import"]["raw_checkpoint_seconds"]
    without = sqlite["import"]["raw_no_checkpoint_rates"]
    assert len(checkpoints) == len(without) == importing.RAW_ROUNDS and min(checkpoints) > 0
    assert all(fast > whole for fast, whole in zip(without, rounds, strict=True))
    assert sqlite["import"]["batches"] >= 1
    passes = sqlite["import"]["passes"]
    assert list(passes) == ["checking", "importing"]
    assert all(timed["seconds"] > 0 and timed["cpu_seconds"] > 0 for timed in passes.values())
    assert sum(timed["seconds"] for timed in passes.values()) <= sqlite["import"]["seconds"]
    assert sqlite["import"]["reports_phase"]["cpu_seconds"] > 0  # as `ledger import` does
    assert sqlite["import"]["raw_fraction"] == pytest.approx(  # of the same stored rows
        sqlite["import"]["stored_rate"] / sqlite["import"]["raw_rate"])
    assert sqlite["import"]["raw_no_checkpoint_fraction"] < sqlite["import"]["raw_fraction"]
    assert sqlite["rebuild"]["events"] == sqlite["import"]["learner_events"]
    ran = sqlite["commands"]
    assert list(ran["commands"]) == [name for name, _, _ in commands.plan("REF", "T")]
    assert ran["learner_events"] == imported["learner_events"]
    assert ran["index_events"] == imported["index_events"]
    assert ran["as_at"] == imported["midway"] and ran["reference"] == "L00025"
    for name, command in ran["commands"].items():
        assert command["exit_code"] == 0 and not command["timed_out"], (name, command["error"])
        assert command["seconds"] > 0 and command["cpu_seconds"] > 0
        assert command["output_bytes"] > 0 and command["peak_mb"] > 0
    assert ran["commands"]["audit REF --as-at"]["command"][:2] == ["audit", "L00025"]
    assert not list(tmp_path.glob("bench-command.out*"))  # the outputs are removed
    kept = json.loads((tmp_path / commands.PARTIAL).read_text())  # saved as each one ends
    assert kept == ran["commands"]
    assert sqlite["rebuild"]["peak_total_mb"] > 10  # all the rebuild's processes, sampled
    assert sqlite["incremental"]["events"] >= 1_000  # the "after 1,000 new events"
    assert sqlite["audit"]["samples"] == 20
    assert sqlite["verify"]["events"] == (sqlite["import"]["events"]
                                          + sqlite["incremental"]["events"]
                                          + incremental.EXTRA_LEARNERS * 2)
    captured = capsys.readouterr()
    out = captured.out
    assert "sqlite" in out and "host speed: sum(range(1000)) in " in out
    # progress goes to stderr, a line as each step starts and ends, in order
    progress = [line for line in captured.err.splitlines() if line.startswith("bench: sqlite ")]
    assert [line.split(":")[1].split()[1] for line in progress] == [
        step for step in bench.STEPS for _ in (1, 2)]
    assert progress[-1].startswith("bench: sqlite verify: done in ")
    assert "to the end of its checkpoint as the import's" in out and "raw, no checkpoint" in out
    # every figure with a target says whether it met it
    judged = [line for line in out.splitlines() if "target" in line]
    targets = [name for name, _, target in commands.plan("REF", "T") if target is not None]
    assert len(judged) == 7 + len(targets) + 1  # the end-to-end rebuild is judged too
    assert all(re.search(r": (met|NOT MET)([;)]|$)", line) for line in judged)
    assert "first report after the import" in out and "learner events/s" in out
    assert "raw, defaults" in out


def test_the_bench_can_run_only_some_steps_after_the_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    report = bench.main(["--learners", "20", "--backend", "sqlite", "--steps", "rebuild",
                         "--mode", "standard", "--workdir", str(tmp_path)])
    assert set(report["backends"]["sqlite"]) == {"import", "rebuild"}
    saved = json.loads((tmp_path / bench.PARTIAL).read_text())  # kept in the work folder
    assert saved["backends"]["sqlite"]["rebuild"] == report["backends"]["sqlite"]["rebuild"]
    out = capsys.readouterr().out
    assert "rebuild" in out and "verify" not in out
    with pytest.raises(SystemExit):
        bench.main(["--learners", "20", "--steps", "rebuild,sleep"])


def test_the_bench_takes_as_many_raw_insert_rounds_as_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    report = bench.main(["--learners", "20", "--backend", "sqlite", "--steps", "",
                         "--mode", "standard", "--raw-rounds", "1", "--workdir", str(tmp_path)])
    imported = report["backends"]["sqlite"]["import"]
    assert imported["raw_rates"] == [pytest.approx(imported["raw_rate"])]
    assert "the median of 1 round(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--learners", "20", "--raw-rounds", "0"])


def test_the_raw_insert_on_sqlite_goes_to_a_new_file_set_up_as_the_ledgers_are(
    tmp_path: Path,
) -> None:
    from ledger.app import LedgerApp
    from ledger.storage.persistence import SQLITE_BULK_CACHE_KIB, SQLITE_CHECKPOINT_PAGES

    app = LedgerApp(f"sqlite:///{tmp_path / 'ledger.db'}")
    with importing._raw_table(app.engine, own_file=True) as (sink, _):
        cursor = sink.cursor()
        files = [row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main"]
        settings = [cursor.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "wal_autocheckpoint", "cache_size")]
        tables = [row[0] for row in cursor.execute("SELECT name FROM sqlite_master")]
    assert files == [str(tmp_path / importing.RAW_FILE)]
    assert settings == ["wal", SQLITE_CHECKPOINT_PAGES, -SQLITE_BULK_CACHE_KIB]
    assert tables == ["bench_raw"]
    assert not list(tmp_path.glob(f"{importing.RAW_FILE}*"))
    with importing._raw_table(app.engine, own_file=False) as (sink, _):
        files = [row[2] for row in sink.cursor().execute("PRAGMA database_list")
                 if row[1] == "main"]
    assert files == [str(tmp_path / "ledger.db")]
    with app.engine.connect() as connection:  # the ledger's own table is dropped after
        assert "bench_raw" not in connection.exec_driver_sql(
            "SELECT name FROM sqlite_master").scalars().all()


def test_the_fold_bench_folds_every_learner_event_of_its_ledger_once(tmp_path: Path) -> None:
    import sqlite3

    from ledger.reporting.reports import LEARNER_TOPICS

    fold_pass = load_script("fold_pass")
    made = fold_pass.main(["--learners", "40", "--workdir", str(tmp_path)])
    ledger = tmp_path / "fold-ledger.db"
    marks = ",".join("?" * len(LEARNER_TOPICS))
    with sqlite3.connect(ledger) as connection:
        (learner_events,) = connection.execute(
            f"SELECT count(*) FROM ledger_events WHERE topic IN ({marks})", LEARNER_TOPICS,
        ).fetchone()
    assert made["events"] == learner_events > 40 * 5  # both workers' shares, each event once
    assert made["fold_cpu_seconds"] > 0 and made["read_cpu_seconds"] > 0
    again = fold_pass.main(["--ledger", str(ledger), "--workers", "3", "--json"])
    assert again["events"] == learner_events
    assert fold_pass.main(["--ledger", str(ledger), "--windows", "0"])["events"] == 0
    with pytest.raises(SystemExit):  # a ledger that is not there is not made empty and folded
        fold_pass.main(["--ledger", str(tmp_path / "missing.db")])
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("arguments", [
    ["--learners", "0"],
    ["--learners", "-5", "--backend", "postgres"],
    ["--samples", "0"],
    ["--schema", "bad-name", "--backend", "postgres"],
    ["--postgres", "postgresql+psycopg2://postgres@127.0.0.1:1/test"],  # nothing listens
    ["--postgres", "not a url", "--backend", "postgres"],
])
def test_the_bench_refuses_bad_input_before_writing_anything(
    arguments: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    with pytest.raises(SystemExit) as stopped:
        bench.main([*arguments, "--workdir", str(tmp_path / "work")])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "error: " in error and "Traceback" not in error
    assert not (tmp_path / "work").exists()  # no export written, no SQLite run lost


def test_the_bench_refuses_a_workdir_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--backend", "sqlite", "--learners", "5", "--workdir", str(afile)])
    assert stopped.value.code == 2 and afile.read_text() == "x"
    assert "is a file, not a folder" in capsys.readouterr().err
