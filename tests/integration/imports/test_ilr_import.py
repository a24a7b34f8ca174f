"""Importing ILR XML files on SQLite and PostgreSQL: three schema years, idempotent,
changes recorded as amendments and withdrawals, every problem named by its element."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.imports import ImportOptions, ImportRefused
from ledger.imports.ilr_import import import_ilr

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ilr"
AIMS = FIXTURES / "aims.csv"
OPTIONS = ImportOptions(actor="importer")
YEARS = ("2024-25", "2025-26", "2026-27")
END = "<LearnPlanEndDate>2027-02-27</LearnPlanEndDate>\n      <FundModel>38</FundModel>"


def event_count(app) -> int:
    with app.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()


def kinds(learner, enrolment: str | None = None) -> list[str]:
    return [f.kind for f in learner.facts if enrolment is None or f.enrolment == enrolment]


@pytest.mark.parametrize("year", YEARS)
def test_an_ilr_file_of_each_schema_year_imports_and_imports_again_writing_nothing(
    make_app, year
):
    app = make_app()
    path = FIXTURES / f"ilr-{year}.xml"
    first = import_ilr(app, path, AIMS, None, OPTIONS)
    assert first.layout == f"ILR {year}"
    assert (first.rows, first.learners_new) == (3, 3)
    written = event_count(app)
    assert written > 3
    again = import_ilr(app, path, AIMS, None, OPTIONS)
    assert (again.events, again.rows_unchanged) == (0, 3)
    assert event_count(app) == written


def test_ilr_fields_become_the_learner_and_enrolment_facts(make_app):
    app = make_app()
    import_ilr(app, FIXTURES / "ilr-2025-26.xml", AIMS, None, OPTIONS)
    zoe = app.find_learner("R2501", "10012345")
    assert zoe.detail("gender") == 2 and zoe.detail("postcode") == "LS6 2QT"
    assert zoe.uln == "1000000043"
    assert zoe.enrolment_refs == ["2"]  # the programme aim (AimSeqNumber 1) is no enrolment
    enrolled = zoe.enrolment("2").values
    assert (enrolled["awarding_body"], enrolled["qualification"]) == ("IMI", "601/3413/0")
    assert enrolled["apprenticeship"] is True
    chidi = app.find_learner("R2502")
    assert chidi.uln is None  # 9999999999 is "not known", never a ULN
    withdrawn = chidi.latest("withdrawn", "1")
    assert withdrawn.values["reason"] == "requested"
    assert withdrawn.values["left_on"].isoformat() == "2025-12-12"
    assert chidi.enrolment("1").values["qualification"] == "603/1234/5"  # from LearnAimRef
    megan = app.find_learner("R2503")
    assert kinds(megan, "1") == ["enrolled", "learning-completed", "achieved"]
    assert megan.latest("achieved", "1").occurred_on.isoformat() == "2026-03-27"


def test_a_changed_ilr_records_only_the_changes_as_an_amendment_and_a_withdrawal(
    make_app, tmp_path
):
    app = make_app()
    original = FIXTURES / "ilr-2026-27.xml"
    import_ilr(app, original, AIMS, None, OPTIONS)
    before = event_count(app)
    changed = tmp_path / "ilr-2026-27-r05.xml"
    changed.write_text(
        original.read_text()
        .replace("<FamilyName>Price</FamilyName>", "<FamilyName>Price-Evans</FamilyName>")
        .replace(f"{END}\n      <CompStatus>1</CompStatus>",
                 f"{END}\n      <LearnActEndDate>2026-11-30</LearnActEndDate>\n"
                 "      <CompStatus>3</CompStatus>\n      <WithdrawReason>2</WithdrawReason>"),
        encoding="utf-8",
    )
    summary = import_ilr(app, changed, AIMS, None, OPTIONS)
    assert (summary.events, summary.learners_updated, summary.rows_unchanged) == (2, 1, 2)
    assert event_count(app) == before + 2
    megan = app.find_learner("R2603")
    assert megan.detail("family_name") == "Price-Evans"
    assert kinds(megan)[-2:] == ["amended", "withdrawn"]
    assert megan.latest("withdrawn", "1").values["reason"] == "transferred"


def test_aims_missing_from_the_aims_file_are_listed_with_learner_and_element_and_nothing_written(
    make_app, tmp_path
):
    app = make_app()
    aims = tmp_path / "aims.csv"
    aims.write_text("LearnAimRef,LearnAimRefTitle,AwardOrgCode\n"
                    "60134130,IMI Level 2 Diploma,IMI\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_ilr(app, FIXTURES / "ilr-2025-26.xml", aims, None, OPTIONS)
    shown = [str(problem) for problem in refused.value.problems]
    assert shown == [
        "line 75, Learner R2502 (AimSeqNumber 1), LearningDelivery/LearnAimRef: 60312345 is "
        "not in the aims file (--aims): add its awarding body, qualification number and title",
        "line 98, Learner R2503 (AimSeqNumber 1), LearningDelivery/LearnAimRef: 61054321 is "
        "not in the aims file (--aims): add its awarding body, qualification number and title",
    ]
    assert event_count(app) == 0
    skipped = import_ilr(app, FIXTURES / "ilr-2025-26.xml", aims, None,
                         ImportOptions(actor="importer", skip_invalid=True))
    assert (skipped.learners_new, skipped.rows_skipped) == (1, 2)
    assert "Learner R2502" in str(skipped.skipped[0])


def test_a_dry_run_of_an_ilr_file_counts_what_it_would_write_and_writes_nothing(make_app):
    app = make_app()
    summary = import_ilr(app, FIXTURES / "ilr-2024-25.xml", AIMS, "C77",
                         ImportOptions(actor="importer", dry_run=True))
    assert summary.dry_run and summary.events > 3
    assert event_count(app) == 0


def test_centre_given_on_the_command_line_replaces_the_ukprn(make_app):
    app = make_app()
    import_ilr(app, FIXTURES / "ilr-2024-25.xml", AIMS, "C77", OPTIONS)
    assert app.find_learner("R2401").centre == "C77"


def test_a_bad_value_names_its_learner_and_element(make_app, tmp_path):
    app = make_app()
    bad = tmp_path / "bad.xml"
    bad.write_text((FIXTURES / "ilr-2025-26.xml").read_text().replace(
        "<DateOfBirth>1998-11-02</DateOfBirth>", "<DateOfBirth>1998-13-02</DateOfBirth>"),
        encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_ilr(app, bad, AIMS, None, OPTIONS)
    [problem] = refused.value.problems
    assert str(problem).startswith("line 75, Learner R2502 (AimSeqNumber 1), "
                                   "Learner/DateOfBirth: ")
