"""An import checked and encoded by worker processes gives the ledger a serial import gives."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

import ledger.imports.runner as runner
from aggregates.errors import AmbiguousLearner
from aggregates.learner import Context, Learner, LearnerReference, learner_id
from bench.ilr import write_pair
from bench.run import write_export
from ledger.app import LedgerApp
from ledger.imports import ImportOptions, ImportRefused, RowProblem, import_csv
from ledger.imports.ilr_import import import_ilr
from ledger.imports.runner import ImportSummary, share_of
from ledger.imports.source import Record
from ledger.imports.spool import BatchPlan
from ledger.imports.writing import BatchWriter
from ledger.integrity.verify import head_digest, verify_ledger
from ledger.privacy.crypto import LearnerErased
from ledger.privacy.keys import learner_keys
from tests.conftest import TEST_SCHEMA, fresh_postgres_url
from tests.integration.imports.test_import import HEADER, SIAN, ZOE

SERIAL = ImportOptions(actor="importer", workers=1)
PARALLEL = ImportOptions(actor="importer", workers=2)


def write(tmp_path: Path, body: str | bytes, name: str = "learners.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def sians(numbers: range) -> str:
    return "".join(SIAN.replace("L2", f"L{n}") for n in numbers)


def event_count(app: LedgerApp) -> int:
    with app.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()


def kinds(learner: Learner) -> list[str]:
    return [fact.kind for fact in learner.facts]


def counts(summary: ImportSummary) -> tuple[int, ...]:
    return (summary.rows, summary.events, summary.learners_new, summary.learners_updated,
            summary.rows_unchanged, summary.warnings, summary.batches)


def histories(app: LedgerApp) -> dict[UUID, list[tuple[str, dict[str, Any]]]]:
    """Every aggregate's events (learners and reference indexes): type and attributes but the
    time they were recorded."""
    record = app.recorder.events_record_cls
    with app.engine.connect() as connection:
        ids = connection.execute(select(record.originator_id).distinct()).scalars().all()
    return {
        UUID(str(key)): [
            (type(event).__qualname__,
             {name: value for name, value in vars(event).items() if name != "timestamp"})
            for _, event in app.learner_events(UUID(str(key)))
        ]
        for key in ids
    }


def version_gaps(app: LedgerApp) -> dict[UUID, list[int]]:
    """The aggregates whose versions are not 1, 2, 3 ... with the versions they have."""
    record = app.recorder.events_record_cls
    query = select(record.originator_id, record.originator_version).order_by(
        record.originator_id, record.originator_version)
    versions: dict[UUID, list[int]] = {}
    with app.engine.connect() as connection:
        for originator, version in connection.execute(query):
            versions.setdefault(UUID(str(originator)), []).append(version)
    return {key: found for key, found in versions.items()
            if found != list(range(1, len(found) + 1))}


def index_centres(app: LedgerApp, reference: str) -> list[str]:
    index = app.repository.get(LearnerReference.create_id(reference))
    assert isinstance(index, LearnerReference)
    return list(index.centres)


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The import's calls that start worker processes, with how many (they still run)."""
    calls: list[tuple[str, int]] = []

    def spying(real: Callable[..., Any]) -> Callable[..., Any]:
        def spy(work: Any, *args: Any) -> Any:
            workers = args[1] if real.__name__ == "run_fed_shares" else args[0]
            calls.append((real.__name__, workers))
            return real(work, *args)
        return spy

    for name in ("run_fed_shares", "stream_shares"):
        monkeypatch.setattr(runner, name, spying(getattr(runner, name)))
    return calls


@contextmanager
def two_fresh_ledgers(db_url: str, folder: Path) -> Iterator[tuple[LedgerApp, LedgerApp]]:
    """Two empty ledgers on the test's backend, closed afterwards."""
    if db_url.startswith("sqlite"):
        tag = uuid.uuid4().hex
        urls = [f"sqlite:///{folder / f'{tag}-{name}.db'}" for name in ("parallel", "serial")]
    else:
        urls = [fresh_postgres_url(TEST_SCHEMA), fresh_postgres_url(f"{TEST_SCHEMA}_serial")]
    apps = [LedgerApp(url) for url in urls]
    try:
        yield apps[0], apps[1]
    finally:
        for app in apps:
            app.close()
            app.engine.dispose()


def test_the_test_databases_can_be_opened_from_forked_workers(make_app):
    assert runner.can_fork_workers(make_app().engine)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(learners=st.integers(1, 40), seed=st.integers(0, 10_000),
       batch_size=st.integers(1, 60))
def test_an_import_by_two_workers_records_what_a_serial_import_records(
    db_url, tmp_path, forks, learners, seed, batch_size
):
    path = tmp_path / f"export-{learners}-{seed}.csv"
    rows = write_export(path, learners, "P", seed)
    with two_fresh_ledgers(db_url, tmp_path) as (parallel, serial):
        forks.clear()
        together = import_csv(parallel, path, ImportOptions(
            actor="importer", batch_size=batch_size, workers=2))
        assert forks == [("run_fed_shares", 2), ("stream_shares", 2)]
        alone = import_csv(serial, path, ImportOptions(
            actor="importer", batch_size=batch_size, workers=1))
        assert counts(together) == counts(alone)
        assert (together.rows, together.learners_new) == (rows, learners)
        assert together.batches == -(-rows // batch_size)

        recorded = histories(parallel)
        assert recorded == histories(serial)
        assert event_count(parallel) == event_count(serial) == sum(map(len, recorded.values()))
        found = [serial.repository.get(key) for key in recorded]
        references = {a.reference for a in found if isinstance(a, Learner)}
        assert len(references) == learners
        for reference in references:
            assert index_centres(parallel, reference) == index_centres(serial, reference)
        assert version_gaps(parallel) == {}

        again = import_csv(parallel, path, ImportOptions(
            actor="importer", batch_size=batch_size, workers=2))
        assert (again.events, again.rows_unchanged) == (0, rows)
        assert event_count(parallel) == event_count(serial)


def test_a_dry_run_by_two_fed_workers_counts_what_a_serial_dry_run_counts_and_writes_nothing(
    make_app, tmp_path, forks
):
    path = tmp_path / "export.csv"
    rows = write_export(path, 25, "P", 3)
    app = make_app()
    dry = [import_csv(app, path, ImportOptions(actor="importer", batch_size=6, workers=workers,
                                               dry_run=True)) for workers in (2, 1)]
    assert forks == [("run_fed_shares", 2)]
    assert counts(dry[0]) == counts(dry[1])
    assert (dry[0].rows, dry[0].learners_new, dry[0].dry_run) == (rows, 25, True)
    assert dry[0].events > 0 and event_count(app) == 0


def test_bad_rows_found_by_two_workers_are_the_problems_a_serial_check_finds(
    make_app, tmp_path, forks
):
    app = make_app()
    unreal_birth = SIAN.replace("2001-03-04", "31/02/2001")
    renamed = SIAN.replace("Jones", "Jones-Evans")  # refused when planned: not when parsed
    unsubmitted = SIAN.replace(",,,\n", ",,2025-10-05,\n")
    bad = {"L3": unreal_birth, "L8": renamed, "L13": unsubmitted, "L21": renamed,
           "L34": unreal_birth}
    assert {share_of(Record(0, {"learner": ref}), 2) for ref in ("L8", "L21")} == {0, 1}
    body = HEADER + ZOE + sians(range(3, 40))
    body += "".join(row.replace("L2", ref) for ref, row in bad.items())
    body += ZOE.replace("C1,L1", "C1,L50").replace("1000000043", "1234567890")
    path = write(tmp_path, body)

    refusals = []
    for options in (SERIAL, PARALLEL):
        with pytest.raises(ImportRefused, match=r"^6 of 44 rows in learners\.csv are "
                                                r"invalid; nothing was written") as refused:
            import_csv(app, path, options)
        refusals.append((str(refused.value), refused.value.problems))
    assert refusals[0] == refusals[1]
    problems = refusals[1][1]
    assert problems == sorted(problems)
    assert {problem.line for problem in problems} == {40, 41, 42, 43, 44, 45}
    assert RowProblem(41, "family_name", "'Jones-Evans' differs from 'Jones' on line 8 for "
                                         "the same learner L8") in problems
    assert RowProblem(43, "family_name", "'Jones-Evans' differs from 'Jones' on line 21 for "
                                         "the same learner L21") in problems
    assert RowProblem(45, "uln", "'1234567890' is not a valid ULN (10 digits with a check "
                                 "digit)") in problems
    assert forks == [("run_fed_shares", 2)]
    assert event_count(app) == 0


def test_a_non_utf8_byte_late_in_the_file_is_refused_naming_its_line_and_the_workers_stop(
    make_app, tmp_path, forks
):
    """The file is read once, by the importing process, while the workers check what it
    has sent them: a file it cannot read is refused there, as a serial import refuses it,
    the workers are stopped and nothing is written."""
    app = make_app()
    good = (HEADER + ZOE + sians(range(3, 300))).encode("utf-8")
    late = SIAN.replace("L2", "L300").replace("Jones", "Jon\udcffes").encode(
        "utf-8", "surrogateescape")
    path = write(tmp_path, good + late + sians(range(301, 320)).encode("utf-8"))
    byte = late.index(b"\xff") + 1

    with pytest.raises(ImportRefused, match="not UTF-8 text; nothing was written") as refused:
        import_csv(app, path, ImportOptions(actor="importer", batch_size=20, workers=2))
    assert forks == [("run_fed_shares", 2)]
    assert multiprocessing.active_children() == []
    assert refused.value.problems == [RowProblem(
        300, "", f"not UTF-8 (byte {byte} of the line); save the file as CSV UTF-8")]
    with pytest.raises(ImportRefused) as serially:
        import_csv(app, path, SERIAL)
    assert serially.value.problems == refused.value.problems
    assert event_count(app) == 0


def test_one_reference_at_two_centres_in_one_file_records_both_learners_and_the_index(
    make_app, tmp_path, forks
):
    app = make_app()
    other_centre = SIAN.replace("C1,L2", "C2,L1")
    summary = import_csv(app, write(tmp_path, HEADER + sians(range(2, 12)) + ZOE
                                    + sians(range(12, 20)) + other_centre),
                         ImportOptions(actor="importer", batch_size=3, workers=2))
    assert forks == [("run_fed_shares", 2), ("stream_shares", 2)]
    assert (summary.rows, summary.learners_new) == (20, 20)
    assert index_centres(app, "L1") == ["C1", "C2"]
    with pytest.raises(AmbiguousLearner, match="'L1' exists at centres C1, C2"):
        app.find_learner("L1")
    assert app.find_learner("L1", "C1").details["given_name"] == "Zoë"
    assert app.find_learner("L1", "C2").details["given_name"] == "Siân"
    assert app.find_learner("L7").centre == "C1"

    third = import_csv(app, write(tmp_path, HEADER + SIAN.replace("C1,L2", "C3,L1")
                                  + sians(range(20, 26)), "more.csv"), PARALLEL)
    assert third.learners_new == 7
    assert index_centres(app, "L1") == ["C1", "C2", "C3"]
    assert version_gaps(app) == {}


class WriteBetweenPasses:
    """A progress display that lets another client write just as the write pass starts."""

    def __init__(self, write: Callable[[], object]) -> None:
        self.write = write
        self.wrote = False

    def start(self, phase: str, total: int) -> None:
        if phase == "Importing":
            self.write()
            self.wrote = True

    def update(self, completed: int, rows: int) -> None:
        pass


def test_a_learner_changed_by_another_client_between_the_passes_is_planned_again(
    make_app, tmp_path, forks, monkeypatch
):
    planned_again: list[list[str]] = []
    plan_and_write = BatchWriter.write

    def spy(writer, rows, make_planner):
        planned_again.append([row.reference for row in rows])
        return plan_and_write(writer, rows, make_planner)

    monkeypatch.setattr(BatchWriter, "write", spy)
    app, other = make_app(), make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE), SERIAL)
    before = event_count(app)
    more = ZOE.replace("E1,IMI", "E2,IMI")
    progress = WriteBetweenPasses(lambda: other.verify_id(
        Context(actor="clerk", source="test"), "L1", "passport", "2025-09-02"))
    body = HEADER + sians(range(2, 8)) + more + sians(range(8, 20))
    summary = import_csv(app, write(tmp_path, body, "later.csv"),
                         ImportOptions(actor="importer", batch_size=4, workers=2), progress)
    assert progress.wrote and forks == [("run_fed_shares", 2), ("stream_shares", 2)]
    assert (summary.rows, summary.rows_skipped, summary.learners_new,
            summary.learners_updated, summary.batches) == (19, 0, 18, 1, 5)
    assert planned_again == [[f"L{n}" for n in refs] for refs in (
        (6, 7, 1, 8), range(9, 13), range(13, 17), range(17, 20))]  # from the clash on
    zoe = app.find_learner("L1")
    assert kinds(zoe)[5:] == ["id-verified", "enrolled", "registration-submitted",
                              "registration-confirmed"]
    assert [event.originator_version for _, event in app.learner_events(zoe.id)] == list(
        range(1, zoe.version + 1))
    for n in range(2, 20):  # the batches before the clash, its own and every later one
        assert kinds(app.find_learner(f"L{n}")) == ["recorded", "enrolled"]
    assert version_gaps(app) == {}
    index_events, verified = 2 * 18, 1
    assert event_count(app) - before == summary.events + index_events + verified
    assert import_csv(app, write(tmp_path, body, "later.csv"), PARALLEL).events == 0


def test_the_chain_verifies_after_an_import_by_two_workers(make_app, tmp_path, forks):
    app = make_app()
    path = tmp_path / "export.csv"
    write_export(path, 30, "V", 11)
    import_csv(app, path, ImportOptions(actor="importer", batch_size=7, workers=2))
    assert forks == [("run_fed_shares", 2), ("stream_shares", 2)]
    for workers in (1, 2):
        result = verify_ledger(app, workers=workers)
        assert result.ok, result.problem
        assert result.events == event_count(app) > 30 * 2
    assert result.head == head_digest(app.recorder)


def key_rows(app: LedgerApp, learner: UUID) -> list[bytes]:
    with app.engine.connect() as connection:
        return [bytes(row[0]) for row in connection.execute(
            select(learner_keys.c.wrapped_key).where(learner_keys.c.learner_id == str(learner)))]


def test_a_key_stored_by_another_client_between_the_passes_seals_that_learners_data(
    make_app, tmp_path, forks
):
    app, other = make_app(), make_app()
    newcomer = learner_id("C1", "L9")
    progress = WriteBetweenPasses(lambda: other.keys.key_for_writing(newcomer))
    summary = import_csv(app, write(tmp_path, HEADER + sians(range(2, 20))),
                         ImportOptions(actor="importer", batch_size=4, workers=2), progress)
    assert progress.wrote and forks == [("run_fed_shares", 2), ("stream_shares", 2)]
    assert (summary.rows, summary.learners_new, summary.batches) == (18, 18, 5)
    assert_one_key_each_and_readable(app, other, newcomer)


def assert_one_key_each_and_readable(app: LedgerApp, other: LedgerApp, newcomer: UUID) -> None:
    stored = key_rows(app, newcomer)
    assert len(stored) == 1 and stored == key_rows(other, newcomer)  # the other client's key
    app.keys.forget_all()
    assert app.find_learner("L9").details["given_name"] == "Siân"  # sealed with that key
    for n in range(2, 20):
        assert len(key_rows(app, learner_id("C1", f"L{n}"))) == 1
    assert version_gaps(app) == {}
    assert verify_ledger(app).ok


def test_a_key_stored_by_another_client_before_its_batch_sends_the_batch_back_to_planning(
    make_app, tmp_path, forks, monkeypatch
):
    app, other = make_app(), make_app()
    newcomer = learner_id("C1", "L9")
    planned_again: list[list[str]] = []
    plan_and_write, store = BatchWriter.write, BatchWriter.write_stored

    def planning(writer, rows, make_planner):
        planned_again.append([row.reference for row in rows])
        return plan_and_write(writer, rows, make_planner)

    def storing(writer, plan, committing=None):
        if str(newcomer) in {row["learner_id"] for row in plan.keys}:
            other.keys.key_for_writing(newcomer)  # just after the worker made one
        return store(writer, plan, committing)

    monkeypatch.setattr(BatchWriter, "write", planning)
    monkeypatch.setattr(BatchWriter, "write_stored", storing)
    summary = import_csv(app, write(tmp_path, HEADER + sians(range(2, 20))),
                         ImportOptions(actor="importer", batch_size=4, workers=2))
    assert forks == [("run_fed_shares", 2), ("stream_shares", 2)]
    assert (summary.rows, summary.learners_new, summary.batches) == (18, 18, 5)
    assert planned_again == [[f"L{n}" for n in refs] for refs in (
        range(6, 10), range(10, 14), range(14, 18), range(18, 20))]  # from the clash on
    assert_one_key_each_and_readable(app, other, newcomer)


def test_keys_made_for_a_batch_that_was_refused_are_not_stored(make_app, tmp_path):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE), SERIAL)
    writer = BatchWriter(app)
    made: OrderedDict[UUID, bytes] = OrderedDict()
    newcomer = Learner.record("C1", "L2", {"given_name": "Siân", "family_name": "Jones",
                                           "date_of_birth": date(2001, 3, 4), "gender": "2"},
                              None, [], date(2025, 9, 1), Context(actor="t", source="test"))
    zoe = app.find_learner("L1")
    zoe.verify_id("passport", date(2025, 9, 2), Context(actor="t", source="test"))
    clash = zoe.collect_events()
    object.__setattr__(clash[0], "originator_version", 1)  # taken: refused when stored
    planned = [app.sealing_mapper.prepare(e) for e in newcomer.collect_events() + clash]
    plan = writer.encode_plan(BatchPlan(2, planned), made)
    assert [row["learner_id"] for row in plan.keys] == [str(newcomer.id)]
    assert set(made) == {newcomer.id}
    assert writer.write_stored(plan) is False
    assert key_rows(app, newcomer.id) == []
    assert app.find_learner("L1").version == zoe.version - 1


def test_a_stored_plan_calls_committing_once_written_and_before_the_commit(make_app):
    app = make_app()
    writer = BatchWriter(app)
    newcomer = Learner.record("C1", "L2", {"given_name": "Siân", "family_name": "Jones",
                                           "date_of_birth": date(2001, 3, 4), "gender": "2"},
                              None, [], date(2025, 9, 1), Context(actor="t", source="test"))
    planned = [app.sealing_mapper.prepare(e) for e in newcomer.collect_events()]
    plan = writer.encode_plan(BatchPlan(1, planned), OrderedDict())
    seen: list[tuple[int, int]] = []  # (events seen by another connection, keys stored)

    def committing() -> None:
        with app.engine.connect() as other:
            seen.append((other.exec_driver_sql("SELECT count(*) FROM ledger_events").scalar(),
                         len(key_rows(app, newcomer.id))))

    assert writer.write_stored(plan, committing=committing) is True
    assert seen == [(0, 0)]  # called once, when nothing was committed yet
    assert app.repository.get(newcomer.id).version == 1
    assert len(key_rows(app, newcomer.id)) == 1


def test_a_batch_opens_or_makes_keys_only_for_learners_with_something_to_seal(
    make_app, tmp_path
):
    app = make_app()
    writer = BatchWriter(app)
    made: OrderedDict[UUID, bytes] = OrderedDict()
    newcomer = Learner.record("C1", "L2", {"given_name": "Siân", "family_name": "Jones",
                                           "date_of_birth": date(2001, 3, 4), "gender": "2"},
                              None, [], date(2025, 9, 1), Context(actor="t", source="test"))
    newcomer.verify_id("passport", date(2025, 9, 2), Context(actor="t", source="test"))
    recorded, checked = newcomer.collect_events()
    plain = writer.encode_plan(BatchPlan(1, [app.sealing_mapper.prepare(checked)]), made)
    assert plain.keys == [] and not made  # nothing personal in the batch: no key
    sealed = writer.encode_plan(BatchPlan(1, [app.sealing_mapper.prepare(recorded)]), made)
    assert [row["learner_id"] for row in sealed.keys] == [str(newcomer.id)]


def _import_in_another_process(url: str, path: str, go: Any) -> None:
    from ledger.app import LedgerApp
    from ledger.imports import ImportOptions, import_csv

    app = LedgerApp(url)
    go.wait(timeout=60)
    import_csv(app, path, ImportOptions(actor="other", batch_size=20, workers=2))
    app.close()
    app.engine.dispose()


def test_two_parallel_imports_of_one_file_at_once_record_each_learner_once(
    make_app, db_url, tmp_path
):
    path = tmp_path / "export.csv"
    rows = write_export(path, 120, "T", 5)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    importers = [context.Process(target=_import_in_another_process, args=(db_url, str(path), go))
                 for _ in range(2)]
    for process in importers:
        process.start()
    go.set()
    for process in importers:
        process.join(timeout=240)
    assert [process.exitcode for process in importers] == [0, 0]

    app = make_app()
    assert version_gaps(app) == {}
    assert verify_ledger(app).ok
    again = import_csv(app, path, ImportOptions(actor="importer", workers=2))
    assert (again.rows, again.events, again.rows_unchanged) == (rows, 0, rows)
    with app.engine.connect() as connection:
        keys = connection.execute(select(learner_keys.c.learner_id)).scalars().all()
    learners = {UUID(key) for key in keys}
    assert len(keys) == len(learners) == 120  # one key each, none left over from a refusal
    app.keys.forget_all()
    for learner in learners:
        assert "[encrypted]" not in str(app.repository.get(learner).details)


def test_a_learner_erased_after_their_key_was_made_is_refused_not_sealed_with_that_key(
    make_app
):
    app = make_app()
    app.keys.master_for_writing()
    learner, made = learner_id("C1", "L1"), OrderedDict()
    rows = app.keys.open_or_make({learner}, made)
    assert [row["learner_id"] for row in rows] == [str(learner)] and learner in made
    assert app.keys.open_or_make({learner}, made) == []  # cached: nothing more to make
    with app.engine.begin() as connection:
        app.keys.store_new_keys(connection, rows)
    app.keys.forget({learner})
    assert app.keys.open_or_make({learner}, made) == []  # the stored key, opened
    assert app.keys.key_for_writing(learner) == made[learner]

    app.keys.destroy(learner)
    app.keys.forget({learner})
    assert app.keys.open_or_make({learner}, made) == []
    with pytest.raises(LearnerErased):
        app.keys.key_for_writing(learner)  # what sealing the learner's events asks for


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(learners=st.integers(2, 40), batch_size=st.integers(1, 30), bad=st.integers(0, 39))
def test_an_ilr_file_read_once_for_two_workers_records_what_a_serial_import_records(
    db_url, tmp_path, forks, learners, batch_size, bad
):
    """The importing process reads the ILR file once and gives each worker its own
    learners' records: the ledger, the counts and the problems named by element are a
    serial import's, and importing it again writes nothing."""
    folder = tmp_path / f"ilr-{learners}-{batch_size}-{bad}"
    folder.mkdir()
    xml, _, aims, deliveries = write_pair(folder, learners)
    broken = folder / "broken.xml"
    text_of = xml.read_text(encoding="utf-8")
    start = text_of.index(f"<LearnRefNumber>L{bad % learners + 1:05d}</LearnRefNumber>")
    broken.write_text(text_of[:start] + text_of[start:].replace(
        "<DateOfBirth>", "<DateOfBirth>x", 1), encoding="utf-8")
    with two_fresh_ledgers(db_url, tmp_path) as (parallel, serial):
        refusals = []
        for app, workers in ((parallel, 2), (serial, 1)):
            with pytest.raises(ImportRefused) as refused:
                import_ilr(app, broken, aims, None, ImportOptions(
                    actor="importer", batch_size=batch_size, workers=workers))
            refusals.append([str(problem) for problem in refused.value.problems])
        assert refusals[0] == refusals[1] and refusals[0]
        assert all("Learner/DateOfBirth" in problem for problem in refusals[0])
        assert event_count(parallel) == event_count(serial) == 0

        forks.clear()
        together = import_ilr(parallel, xml, aims, None, ImportOptions(
            actor="importer", batch_size=batch_size, workers=2))
        assert forks == [("run_fed_shares", 2), ("stream_shares", 2)]
        alone = import_ilr(serial, xml, aims, None, ImportOptions(
            actor="importer", batch_size=batch_size, workers=1))
        assert counts(together) == counts(alone)
        assert (together.rows, together.learners_new) == (deliveries, learners)
        assert histories(parallel) == histories(serial)
        assert version_gaps(parallel) == {}
        again = import_ilr(parallel, xml, aims, None, ImportOptions(
            actor="importer", batch_size=batch_size, workers=2))
        assert (again.events, again.rows_unchanged) == (0, deliveries)
