"""Importing CSV files into the ledger on SQLite and PostgreSQL: validation first, idempotent."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, text

from ledger.imports import ImportOptions, ImportRefused, RowProblem, import_csv
from ledger.imports.runner import DEFAULT_BATCH_SIZE

HEADER = ("centre,learner,given_name,family_name,date_of_birth,gender,postcode,uln,enrolment,"
          "awarding_body,qualification,qualification_title,programme_start,planned_end,"
          "registration_submitted,registration_confirmed,ao_reference\n")
ZOE = ("C1,L1,Zoë,O'Brien,01/02/2000,f,sw1a1aa,1000000043,E1,IMI,603/1234/5,Light vehicle,"
       "2025-09-01,2026-07-01,2025-10-01,05/10/2025,IMI-1\n")
SIAN = "C1,L2,Siân,Jones,2001-03-04,2,,,E1,AIM,600/1/2,Customer service,2025-09-01,2026-07-01,,,\n"
OPTIONS = ImportOptions(actor="importer")


def write(tmp_path: Path, body: str, name: str = "learners.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((("\ufeff" if bom else "") + body).encode("utf-8"))
    return path


def event_count(app) -> int:
    with app.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()


def kinds(learner) -> list[str]:
    return [fact.kind for fact in learner.facts]


def test_an_mis_export_records_learners_enrolments_and_registrations_with_their_line(
    make_app, tmp_path
):
    app = make_app()
    summary = import_csv(app, write(tmp_path, HEADER + ZOE + SIAN, bom=True), OPTIONS)
    assert (summary.rows, summary.learners_new, summary.events) == (2, 2, 6)
    zoe = app.find_learner("L1")
    assert zoe.details["given_name"] == "Zoë" and zoe.details["family_name"] == "O'Brien"
    assert zoe.details["postcode"] == "SW1A 1AA" and zoe.uln == "1000000043"
    assert kinds(zoe) == ["recorded", "uln", "enrolled", "registration-submitted",
                          "registration-confirmed"]
    sources = {event.source for _, event in app.learner_events(zoe.id)}
    assert sources == {"import learners.csv:2"}
    assert app.find_learner("L2").registration("E1") == ("none", None)


def test_importing_the_same_file_again_writes_zero_events(make_app, tmp_path):
    app = make_app()
    path = write(tmp_path, HEADER + ZOE + SIAN)
    import_csv(app, path, OPTIONS)
    before = event_count(app)
    summary = import_csv(app, path, OPTIONS)
    assert (summary.events, summary.rows_unchanged, event_count(app)) == (0, 2, before)


def test_an_updated_export_records_only_what_is_new_and_a_changed_name_is_an_amendment(
    make_app, tmp_path
):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE + SIAN), OPTIONS)
    renamed = SIAN.replace("Jones", "Jones-Evans").replace(",,,\n", ",2025-10-02,,\n")
    summary = import_csv(app, write(tmp_path, HEADER + ZOE + renamed, "later.csv"), OPTIONS)
    assert (summary.events, summary.learners_updated, summary.rows_unchanged) == (2, 1, 1)
    sian = app.find_learner("L2")
    assert kinds(sian)[-2:] == ["amended", "registration-submitted"]
    assert sian.details["family_name"] == "Jones-Evans"
    amended = [event for _, event in app.learner_events(sian.id)][-2]
    assert (amended.old, amended.new, amended.source) == ("Jones", "Jones-Evans",
                                                         "import later.csv:3")


def test_any_bad_row_refuses_the_whole_file_listing_line_column_and_reason(make_app, tmp_path):
    app = make_app()
    bad = ("C1,L3,Ann,Lee,31/02/2001,f,,1234567890,E1,IMI,603/1,T,2025-09-01,2025-08-01,,"
           "2025-10-01,\n")
    with pytest.raises(ImportRefused, match="2 of 3 row") as refused:
        import_csv(app, write(tmp_path, HEADER + ZOE + "\n" + bad + bad), OPTIONS)
    assert refused.value.problems[:5] == [
        RowProblem(4, "ao_reference", "is required when registration_confirmed is given"),
        RowProblem(4, "date_of_birth", "'31/02/2001' is not a real date "
                                       "(day is out of range for month)"),
        RowProblem(4, "planned_end", "2025-08-01 is before programme_start 2025-09-01"),
        RowProblem(4, "registration_submitted",
                   "is required when registration_confirmed is given"),
        RowProblem(4, "uln", "'1234567890' is not a valid ULN (10 digits with a check digit)"),
    ]
    assert {problem.line for problem in refused.value.problems} == {4, 5}
    assert event_count(app) == 0


def test_skip_invalid_writes_the_good_rows_and_lists_the_rest(make_app, tmp_path):
    app = make_app()
    bad = SIAN.replace("2001-03-04", "not a date")
    options = ImportOptions(actor="importer", skip_invalid=True)
    summary = import_csv(app, write(tmp_path, HEADER + ZOE + bad), options)
    assert summary.rows_skipped == 1 and summary.skipped[0].line == 3
    assert summary.learners_new == 1
    assert app.find_learner("L1").reference == "L1"


def test_a_dry_run_counts_the_events_it_would_write_and_writes_none(make_app, tmp_path):
    app = make_app()
    summary = import_csv(app, write(tmp_path, HEADER + ZOE),
                         ImportOptions(actor="importer", dry_run=True))
    assert (summary.events, summary.dry_run, event_count(app)) == (4, True, 0)


def test_a_fact_that_contradicts_the_ledger_is_refused_not_duplicated(make_app, tmp_path):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE), OPTIONS)
    moved = ZOE.replace("2025-09-01", "2025-09-08")
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, write(tmp_path, HEADER + moved, "moved.csv"), OPTIONS)
    assert [(p.line, p.column) for p in refused.value.problems] == [(2, "programme_start")]
    assert "records the programme start of E1 as 2025-09-01" in refused.value.problems[0].reason


def test_missing_required_columns_are_refused_by_name_and_extra_columns_noted(
    make_app, tmp_path
):
    app = make_app()
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, write(tmp_path, "centre,learner,given_name,shoe_size\nC1,L1,Ann,5\n"),
                   OPTIONS)
    assert refused.value.problems == [RowProblem(1, "", (
        "missing required column(s) for the mis-export layout: family_name, date_of_birth, "
        "gender, enrolment, awarding_body, qualification, qualification_title, "
        "programme_start, planned_end"))]
    summary = import_csv(app, write(tmp_path, HEADER.replace("\n", ",Shoe Size\n")
                                    + ZOE.replace("\n", ",9\n")), OPTIONS)
    assert summary.ignored_columns == ("Shoe Size",)


def test_event_rows_record_lrs_results_rejections_and_amendments_idempotently(
    make_app, tmp_path
):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE + SIAN.replace(",,,\n", ",2025-10-01,,\n")),
               OPTIONS)
    events = write(tmp_path, (
        "event,centre,learner,enrolment,occurred_on,code,flags,field,value,reason\n"
        "lrs-result,C1,L1,,2025-10-10,WSVRC005,VRF1;VRF7,,,\n"
        "registration-rejected,C1,L2,E1,2025-10-04,,,,,Name in capitals\n"
        "amended,C1,L2,,2025-10-05,,,postcode,cf10 1aa,Moved house\n"
    ), "events.csv")
    summary = import_csv(app, events, OPTIONS)
    assert (summary.layout, summary.events) == ("events", 3)
    assert app.find_learner("L1").uln_status() == (None, "rejected")
    sian = app.find_learner("L2")
    assert sian.registration("E1")[0] == "rejected"
    assert sian.details["postcode"] == "CF10 1AA"
    assert import_csv(app, events, OPTIONS).events == 0
    assert import_csv(app, write(tmp_path, HEADER + ZOE + SIAN.replace(
        ",,,\n", ",2025-10-01,,\n")), OPTIONS).events == 0


def test_every_conflict_in_a_row_is_reported_at_once(make_app, tmp_path):
    app = make_app()
    header = HEADER.replace("ao_reference\n", "ao_reference,assessment_started\n")
    import_csv(app, write(tmp_path, header + ZOE.replace("\n", ",2025-10-03\n")), OPTIONS)
    changed = (ZOE.replace("2025-10-01", "2025-10-02").replace("\n", ",2025-10-04\n")
               .replace(",IMI,", ",AIM,").replace("2026-07-01", "2026-07-02"))
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, write(tmp_path, header + changed, "later.csv"), OPTIONS)
    assert [p.column for p in refused.value.problems] == ["awarding_body", "planned_end"]
    same_enrolment = ZOE.replace("2025-10-01", "2025-10-02").replace("\n", ",2025-10-04\n")
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, write(tmp_path, header + same_enrolment, "later.csv"), OPTIONS)
    assert [(p.line, p.column) for p in refused.value.problems] == [
        (2, "assessment_started"), (2, "registration_submitted")]


def test_an_event_row_for_an_unknown_learner_is_refused(make_app, tmp_path):
    app = make_app()
    events = write(tmp_path, "event,centre,learner,enrolment,occurred_on\n"
                             "claim-submitted,C1,NOPE,E1,2025-10-10\n")
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, events, OPTIONS)
    assert refused.value.problems == [RowProblem(
        2, "learner", "no learner 'NOPE' at centre C1 in the ledger or earlier in the file")]


def ledger_facts(app) -> dict[str, list[tuple]]:
    """Every learner's events (type and attributes but the recorded time), by reference."""
    from aggregates.learner import Learner
    from ledger.imports.writing import load_aggregates

    record = app.recorder.events_record_cls
    with app.engine.connect() as connection:
        ids = connection.execute(select(record.originator_id).distinct()).scalars().all()
    found = load_aggregates(app, [UUID(str(key)) for key in ids])
    return {
        learner.reference: [
            (type(event).__qualname__,
             {k: v for k, v in vars(event).items() if k != "timestamp"})
            for _, event in app.learner_events(learner.id)
        ]
        for learner in found.values() if isinstance(learner, Learner)
    }


def test_loading_many_aggregates_gives_what_the_repository_gives(make_app, tmp_path):
    from uuid import uuid4

    from aggregates.learner import LearnerReference, learner_id
    from ledger.imports.writing import LOAD_CHUNK, load_aggregates

    app = make_app()
    rows = "".join(SIAN.replace("L2", f"L{n}") for n in range(3))
    import_csv(app, write(tmp_path, HEADER + rows), OPTIONS)
    learners = [learner_id("C1", f"L{n}") for n in range(3)]
    index = LearnerReference.create_id("L1")
    unknown = [uuid4() for _ in range(LOAD_CHUNK)]  # more than one chunk of ids
    found = load_aggregates(app, [*learners, *unknown, index])
    assert set(found) == {*learners, *unknown, index}
    for key in [*learners, index]:
        loaded, replayed = found[key], app.repository.get(key)
        assert (type(loaded), loaded.version, vars(loaded)) == (
            type(replayed), replayed.version, vars(replayed))
    assert found[learners[0]].version == 2
    assert all(found[key] is None for key in unknown)


def test_small_batches_give_the_same_ledger_as_one_batch(make_app, tmp_path):
    from ledger.app import LedgerApp
    from ledger.demo import write_demo_files

    mis, lrs = tmp_path / "centre.csv", tmp_path / "centre-lrs.csv"
    write_demo_files(mis, lrs, 25, seed=7)
    many = make_app()
    for path in (mis, lrs):
        import_csv(many, path, ImportOptions(actor="importer", batch_size=3))
    one = LedgerApp(f"sqlite:///{tmp_path / 'one.db'}")
    for path in (mis, lrs):
        import_csv(one, path, OPTIONS)
    assert ledger_facts(many) == ledger_facts(one)
    assert len(ledger_facts(one)) == 25
    assert import_csv(many, mis, ImportOptions(actor="importer", batch_size=3)).events == 0


@pytest.mark.parametrize("batch_size", [1, 2, DEFAULT_BATCH_SIZE])
def test_learners_are_counted_once_whatever_the_batch_size(make_app, tmp_path, batch_size):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + SIAN), OPTIONS)
    second = SIAN.replace(",E1,", ",E2,")
    body = HEADER + ZOE + ZOE.replace(",E1,", ",E2,") + SIAN + second + ZOE.replace(",E1,", ",E3,")
    options = ImportOptions(actor="importer", batch_size=batch_size)
    dry = import_csv(app, write(tmp_path, body, "more.csv"), ImportOptions(
        actor="importer", batch_size=batch_size, dry_run=True))
    summary = import_csv(app, write(tmp_path, body, "more.csv"), options)
    for counts in (dry, summary):
        assert (counts.learners_new, counts.learners_updated) == (1, 1)


def test_rows_for_an_erased_learner_are_refused(make_app, tmp_path):
    from aggregates.learner import Context
    from ledger.privacy.erasure import erase_learner

    app = make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE), OPTIONS)
    erase_learner(app, Context(actor="dpo", source="test"), "L1", "subject access request")
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, write(tmp_path, HEADER + ZOE), OPTIONS)
    assert [(p.line, p.column) for p in refused.value.problems] == [(2, "learner")]
    assert "erased" in refused.value.problems[0].reason


def test_rows_of_one_learner_must_agree_on_the_learners_details(make_app, tmp_path):
    app = make_app()
    second = ZOE.replace("E1,IMI", "E2,IMI").replace("Zoë", "ZOË")
    with pytest.raises(ImportRefused) as refused:
        import_csv(app, write(tmp_path, HEADER + ZOE + second), OPTIONS)
    assert refused.value.problems == [RowProblem(
        3, "given_name", "'ZOË' differs from 'Zoë' on line 2 for the same learner L1")]


def test_learners_evicted_from_the_check_cache_are_still_imported_correctly(
    make_app, tmp_path, monkeypatch
):
    import ledger.imports.runner as runner

    monkeypatch.setattr(runner, "CHECK_CACHE_SIZE", 2)
    app = make_app()
    others = "".join(SIAN.replace("L2", f"L{n}") for n in range(3, 9))
    later = ZOE.replace("E1,IMI", "E2,IMI")
    options = ImportOptions(actor="importer", batch_size=2)
    summary = import_csv(app, write(tmp_path, HEADER + ZOE + others + later), options)
    assert summary.rows == 8 and summary.rows_skipped == 0
    assert app.find_learner("L1").enrolment_refs == ["E1", "E2"]
    assert import_csv(app, write(tmp_path, HEADER + ZOE + others + later), options).events == 0


def test_progress_is_reported_for_the_check_and_the_write(make_app, tmp_path):
    calls: list[tuple] = []

    class Recorder:
        def start(self, phase: str, total: int) -> None:
            calls.append(("start", phase, total))

        def update(self, completed: int, rows: int) -> None:
            calls.append(("update", completed, rows))

    path = write(tmp_path, HEADER + ZOE + SIAN)
    import_csv(make_app(), path, ImportOptions(actor="importer", batch_size=1), Recorder())
    size = path.stat().st_size
    assert calls == [
        ("start", "Checking", size), ("update", size - len(SIAN.encode()), 1),
        ("update", size, 2),
        ("start", "Importing", 2), ("update", 1, 1), ("update", 2, 2),
    ]


def test_imported_personal_data_is_sealed_in_the_database(make_app, tmp_path):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE), OPTIONS)
    with app.engine.connect() as connection:
        states = connection.execute(text("SELECT state FROM ledger_events")).scalars().all()
    stored = b"".join(bytes(state) for state in states)
    assert b"Brien" not in stored and b"1000000043" not in stored
    assert b"603/1234/5" in stored
    assert app.find_learner("L1").details["family_name"] == "O'Brien"


class WriteBetweenPasses:
    """A progress display that lets another client write just as the write pass starts."""

    def __init__(self, write) -> None:
        self.write = write
        self.started_at = None

    def start(self, phase: str, total: int) -> None:
        if phase == "Importing":
            from datetime import UTC, datetime
            self.write()
            self.started_at = datetime.now(UTC)

    def update(self, completed: int, rows: int) -> None:
        pass


def test_events_saved_from_the_checked_plan_are_stamped_when_they_are_written(
    make_app, tmp_path
):
    app = make_app()
    progress = WriteBetweenPasses(lambda: None)
    import_csv(app, write(tmp_path, HEADER + ZOE + SIAN), OPTIONS, progress)
    stamps = [event.timestamp for learner in ("L1", "L2")
              for _, event in app.learner_events(app.find_learner(learner).id)]
    assert len(stamps) == 6 and min(stamps) >= progress.started_at


def test_a_learner_changed_between_the_check_and_the_write_is_planned_again(
    make_app, tmp_path
):
    from aggregates.learner import Context

    app, other = make_app(), make_app()
    import_csv(app, write(tmp_path, HEADER + ZOE), OPTIONS)
    others = "".join(SIAN.replace("L2", f"L{n}") for n in range(2, 6))
    more = ZOE.replace("E1,IMI", "E2,IMI")
    progress = WriteBetweenPasses(lambda: other.verify_id(
        Context(actor="clerk", source="test"), "L1", "passport", "2025-09-02"))
    summary = import_csv(app, write(tmp_path, HEADER + others + more + SIAN.replace(
        "L2", "L9")), ImportOptions(actor="importer", batch_size=2), progress)
    assert (summary.rows, summary.rows_skipped, summary.learners_new) == (6, 0, 5)
    zoe = app.find_learner("L1")  # loads: no version is missing or taken twice
    assert kinds(zoe)[5:] == ["id-verified", "enrolled", "registration-submitted",
                              "registration-confirmed"]
    assert _versions(app, zoe.id) == list(range(1, zoe.version + 1))
    assert app.find_learner("L9").enrolment_refs == ["E1"]  # the batch after it, planned again
    assert import_csv(app, write(tmp_path, HEADER + others + more), OPTIONS).events == 0


def test_a_change_between_the_check_and_the_write_that_contradicts_a_row_refuses_it(
    make_app, tmp_path
):
    from aggregates.learner import Context

    app, other = make_app(), make_app()
    import_csv(app, write(tmp_path, HEADER + SIAN), OPTIONS)
    progress = WriteBetweenPasses(lambda: other.register(
        Context(actor="clerk", source="test"), "L2", "E1", submitted="2025-09-20"))
    registered = SIAN.replace(",,,\n", ",2025-10-01,,\n")
    with pytest.raises(ImportRefused, match="refused when written") as refused:
        import_csv(app, write(tmp_path, HEADER + registered), OPTIONS, progress)
    assert [(p.line, p.column) for p in refused.value.problems] == [
        (2, "registration_submitted")]


def _versions(app, learner: UUID) -> list[int]:
    return [event.originator_version for _, event in app.learner_events(learner)]


def test_event_rows_record_registration_checks_units_and_eqa_sampling_idempotently(
    make_app, tmp_path
):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + SIAN.replace(",,,\n", ",2025-10-01,,\n")),
               OPTIONS)
    events = write(tmp_path, (
        "event,centre,learner,enrolment,occurred_on\n"
        "registration-checked,C1,L2,E1,2025-10-03\n"
        "units-completed,C1,L2,E1,2026-05-01\n"
        "eqa-sampling-required,C1,L2,E1,2026-04-01\n"
        "EqaSampled,C1,L2,E1,2026-05-04\n"
    ), "events.csv")
    summary = import_csv(app, events, OPTIONS)
    assert summary.events == 4
    assert kinds(app.find_learner("L2"))[-4:] == [
        "registration-checked", "units-completed", "eqa-sampling-required", "eqa-sampled"]
    assert import_csv(app, events, OPTIONS).events == 0


def test_a_name_changed_by_an_export_to_capitals_is_an_amendment_with_its_warning(
    make_app, tmp_path
):
    app = make_app()
    import_csv(app, write(tmp_path, HEADER + SIAN), OPTIONS)
    capitals = SIAN.replace("Jones", "JONES")
    import_csv(app, write(tmp_path, HEADER + capitals, "later.csv"), OPTIONS)
    amended = [event for _, event in app.learner_events(app.find_learner("L2").id)][-1]
    assert (amended.new, [w["code"] for w in amended.warnings]) == ("JONES", ["name-capitals"])


LEFT_HEADER = ("centre,learner,given_name,family_name,date_of_birth,gender,enrolment,"
               "awarding_body,qualification,qualification_title,programme_start,planned_end,"
               "registration_submitted,withdrawal_left,withdrawal_reason\n")
LEFT_ROW = ("58231,L1,Ann,Lee,2000-01-01,2,E1,IMI,601/3413/0,Diploma,2026-02-02,2026-12-01,"
            "{submitted},2026-02-14,requested\n")


def test_a_registration_after_leaving_is_recorded_however_the_facts_are_batched(
    make_app, tmp_path
):
    """One row with the withdrawal and a later submission, or the submission arriving in a
    later export: the same facts give the same ledger."""
    whole = write(tmp_path, LEFT_HEADER + LEFT_ROW.format(submitted="2026-03-18"), "b.csv")
    at_once = make_app()
    assert import_csv(at_once, whole, OPTIONS).events == 4
    from ledger.app import LedgerApp

    in_two = LedgerApp(f"sqlite:///{tmp_path / 'two.db'}")
    import_csv(in_two, write(tmp_path, LEFT_HEADER + LEFT_ROW.format(submitted=""), "a.csv"),
               OPTIONS)
    assert import_csv(in_two, whole, OPTIONS).events == 1
    assert sorted(kinds(in_two.find_learner("L1"))) == sorted(
        kinds(at_once.find_learner("L1")))
    assert in_two.find_learner("L1").registration("E1")[0] == "submitted"
