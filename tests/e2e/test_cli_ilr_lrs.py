"""`ledger import FILE.xml` and `ledger lrs` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ilr"
ILR = str(FIXTURES / "ilr-2025-26.xml")
AIMS = str(FIXTURES / "aims.csv")


def test_an_ilr_file_imports_once_and_again_records_nothing(ledger):
    first = ledger("import", ILR, "--aims", AIMS)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[:4] == [
        "Imported ilr-2025-26.xml (ILR 2025-26)",
        "  rows:                  3",
        "  learners:              3 new, 0 updated",
        "  events written:        9",
    ]
    again = json.loads(ledger("import", ILR, "--aims", AIMS, "--format", "json").stdout)
    assert (again["layout"], again["events"], again["rows_unchanged"]) == ("ILR 2025-26", 0, 3)
    audit = ledger("audit", "R2503", "--format", "json")
    events = [row["event"] for row in json.loads(audit.stdout)["events"]]
    assert events[-2:] == ["LearningCompleted", "Achieved"]


def test_an_ilr_file_without_its_aims_is_refused_listing_each_aim_on_stderr(ledger):
    result = ledger("import", ILR)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == ("  line 49, Learner R2501 (AimSeqNumber 2), LearningDelivery/LearnAimRef:"
                        " 60134130 is not in the aims file (--aims): add its awarding body, "
                        "qualification number and title")
    assert len(lines) == 4 and lines[-1].startswith("Error: 3 of 3 rows")
    assert "Traceback" not in result.output


def test_aims_and_centre_are_refused_for_a_csv_file(ledger, tmp_path):
    path = tmp_path / "learners.csv"
    path.write_text("centre,learner\n", encoding="utf-8")
    result = ledger("import", str(path), "--aims", AIMS)
    assert result.exit_code == 1 and "--aims and --centre are for ILR files" in result.stderr


def test_lrs_request_with_few_learners_lists_them_for_the_portal(ledger, tmp_path):
    ledger("import", ILR, "--aims", AIMS)
    result = ledger("lrs", "request", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "Centre 10012345: 3 learner(s), fewer than 50" in result.stdout
    assert "  R2502: no ULN" in result.stdout
    assert "  R2501: ULN not yet verified" in result.stdout
    assert not list((tmp_path / "out").iterdir())
