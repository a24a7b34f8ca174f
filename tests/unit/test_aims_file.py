"""The learning-aims file: LARS-shaped headers, derived qualification numbers, unusable aims
kept with why, awarding-body near misses suggested; LRS batch sizes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.imports.aims import Aim, Unusable, load_aims, qualification_from_aim
from ledger.imports.ilr_codes import delivery_record
from ledger.imports.lrs import LARGEST_BATCH, SMALLEST_BATCH, batch_sizes

LARS_HEADER = "LearnAimRef,EffectiveFrom,LearnAimRefTitle,LearnAimRefType,AwardOrgCode\n"


def aims_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "LARS_LearningDelivery.csv"
    path.write_text("\ufeff" + LARS_HEADER + body, encoding="utf-8")
    return path


def test_a_lars_download_maps_aims_to_body_qualification_and_title(tmp_path):
    aims = load_aims(aims_file(tmp_path, "60134130,2020-08-01,IMI Level 2 Diploma,0001,IMI\n"
                                         "z0001947,2020-08-01,Non regulated provision,0001,\n"
                                         "CMISC001,2020-08-01,Odd aim,0001,NCFE\n"))
    assert aims["60134130"] == Aim("IMI", "601/3413/0", "IMI Level 2 Diploma")
    unregulated = aims["Z0001947"]  # references are upper-cased
    assert isinstance(unregulated, Unusable) and "no awarding body" in str(unregulated)
    odd = aims["CMISC001"]
    assert isinstance(odd, Unusable) and str(odd).endswith("(aims file line 4)")


def test_an_awarding_body_spelling_a_known_one_apart_from_spacing_is_unusable_with_a_suggestion(
    tmp_path,
):
    aims = load_aims(aims_file(tmp_path, "60134130,2020-08-01,IMI Diploma,0001,I M I\n"),
                     frozenset({"IMI", "AIM"}))
    entry = aims["60134130"]
    assert isinstance(entry, Unusable) and "did you mean IMI?" in entry.reason


def test_a_delivery_on_an_unusable_aim_is_refused_naming_the_aims_file_line(tmp_path):
    aims = load_aims(aims_file(tmp_path, "ZWRKX001,2020-08-01,Work experience,0001,NONE\n"))
    record = delivery_record(12, {"learner": "L1"}, {"LearnAimRef": "ZWRKX001",
                                                     "AimSeqNumber": "1"}, aims)
    [problem] = record.problems
    assert (problem.line, problem.column) == (12, "LearningDelivery/LearnAimRef")
    assert "aims file line 2" in problem.reason


@given(st.from_regex(r"[0-9]{7}[0-9X]", fullmatch=True))
def test_a_regulated_aim_reference_spells_its_qualification_number(reference):
    number = qualification_from_aim(reference)
    assert number is not None and number.replace("/", "") == reference
    assert [len(part) for part in number.split("/")] == [3, 4, 1]


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=2_000_000))
def test_lrs_batches_hold_50_to_5000_learners_and_every_learner_once(count):
    sizes = batch_sizes(count)
    if count < SMALLEST_BATCH:
        assert sizes == []
    else:
        assert sum(sizes) == count
        assert all(SMALLEST_BATCH <= size <= LARGEST_BATCH for size in sizes)
        assert max(sizes) - min(sizes) <= 1
