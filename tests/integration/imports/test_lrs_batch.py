"""LRS batch files on SQLite and PostgreSQL: request files from a synthetic centre, an
output file made from them imported as ULN results, idempotent, malformed files refused."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from aggregates.values import uln_check_digit
from ledger.demo import write_demo_files
from ledger.imports import ImportOptions, ImportRefused, import_csv
from ledger.imports.lrs import REQUEST_COLUMNS
from ledger.imports.lrs_request import (
    import_results,
    learners_to_look_up,
    lookup_reason,
    write_requests,
)
from projections.audit import event_name

OPTIONS = ImportOptions(actor="importer")
MOMENT = datetime(2026, 12, 7, 9, 30)


def uln_for(number: int) -> str:
    """A valid ULN made from a number (skipping those with no check digit)."""
    while True:
        first = f"{4_000_000_00 + number:09d}"
        digit = uln_check_digit(first)
        if digit is not None:
            return f"{first}{digit % 10}"
        number += 7_919


def centre(app, tmp_path: Path, learners: int) -> None:
    export, events = tmp_path / "centre.csv", tmp_path / "centre-lrs.csv"
    write_demo_files(export, events, learners, 7)
    import_csv(app, export, OPTIONS)
    import_csv(app, events, OPTIONS)


def output_from(request: Path, target: Path, exceptions: int,
                codes: tuple[str, str, str] = ("RC003", "RC001", "RC002")) -> list[str]:
    """The LRS's answer to a request file, in the request's layout with a ReturnCode column:
    the first `exceptions` learners possible matches, the others found (with the ULN they
    gave, if any) or created."""
    exception, found, created = codes
    rows = list(csv.reader(request.read_text(encoding="utf-8").splitlines()))
    head, learners = rows[0], rows[1:]
    uln_at, reference_at = REQUEST_COLUMNS.index("ULN"), REQUEST_COLUMNS.index("MISIdentifier")
    answered = []
    for index, row in enumerate(learners):
        given = row[uln_at]
        if index < exceptions:
            code, uln = exception, ""
        else:
            code, uln = (found, given) if given else (created, uln_for(index))
        answered.append([*row[:uln_at], uln, *row[uln_at + 1:], code])
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([[*head, "ReturnCode"], *answered])
    return [row[reference_at] for row in learners[exceptions:]]


def test_an_lrs_round_trip_records_ulns_in_the_audit_and_lists_exceptions(
    make_app, tmp_path
):
    app = make_app()
    centre(app, tmp_path, 600)
    wanted = learners_to_look_up(app, None)
    [(number, listed)] = wanted.items()
    assert len(listed) >= 50
    result = write_requests(app, tmp_path / "out", None, None, MOMENT)
    [request] = result.written
    assert request.name == f"LRB_{number}_071220260930.CSV"
    again = write_requests(app, tmp_path / "out", None, None, MOMENT.replace(minute=45))
    assert (again.written, again.unchanged) == ([], [request])  # idempotent
    output = tmp_path / "LRB_58231_071220260930_OUTPUT.CSV"
    answered = output_from(request, output, exceptions=3)
    results = import_results(app, output, None, None, OPTIONS)
    assert [e.code for e in results.exceptions] == ["RC003"] * 3
    assert results.summary.events >= len(answered)
    learner = app.find_learner(answered[0], number)
    assert learner.uln_status()[1] == "confirmed"
    names = [(event_name(event), event.source) for _, event in app.learner_events(learner.id)]
    assert ("LrsResultRecorded", f"import {output.name}:5") in names
    notes = {event.note for _, event in app.learner_events(learner.id)
             if event_name(event) == "LrsResultRecorded"}
    assert notes and all("not verified against the LRS's guide" in note for note in notes)
    assert all("not verified" in e.meaning for e in results.exceptions)  # RC003, as recalled
    repeat = import_results(app, output, None, None, OPTIONS)
    assert repeat.summary.events == 0
    left = learners_to_look_up(app, None).get(number, [])
    assert len(left) == 3  # only the exceptions are still to be resolved


# The request layout as an MIS writes it (sunsis-core act_download_miap.php) and as the LRS
# web service's BatchLearner orders it: the file header's four columns, then the learner's 26
VERIFIED_HEADINGS = [
    "FileVersion", "FileName", "UKPRN", "LearnerRecordCount", "ULN", "MISIdentifier", "Title",
    "GivenName", "PreferredGivenName", "MiddleOtherName", "FamilyName", "PreviousFamilyName",
    "FamilyNameAt16", "SchoolAtAge16", "LastKnownAddressLine1", "LastKnownAddressLine2",
    "LastKnownAddressTown", "LastKnownAddressCountyorCity", "LastKnownPostCode",
    "DateOfAddressCapture", "DateOfBirth", "PlaceOfBirth", "EmailAddress", "Gender",
    "Nationality", "ScottishCandidateNumber", "AbilityToShare", "VerificationType",
    "OtherVerificationDescription", "Notes",
]


def test_a_request_file_has_the_lrs_batch_layout(make_app, tmp_path):
    app = make_app()
    centre(app, tmp_path, 300)
    [request] = write_requests(app, tmp_path / "out", None, "10012345", MOMENT).written
    assert re.fullmatch(r"LRB_10012345_\d{12}\.CSV", request.name)  # upper-case extension
    text = request.read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == VERIFIED_HEADINGS and all(len(row) == 30 for row in rows)
    assert request.read_bytes().endswith(b"\r\n")  # CRLF, as the MIS writes it
    assert rows[1][:4] == ["2A", request.stem, "10012345", str(len(rows) - 1)]
    assert all(row[:4] == ["", "", "", ""] for row in rows[2:])
    cell = {name: [row[VERIFIED_HEADINGS.index(name)] for row in rows[1:]]
            for name in ("MISIdentifier", "DateOfBirth", "Gender", "GivenName", "FamilyName")}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", born) for born in cell["DateOfBirth"])
    assert set(cell["Gender"]) <= {"0", "1", "2", "9"}
    assert all(cell["MISIdentifier"]) and all(cell["GivenName"]) and all(cell["FamilyName"])


def test_an_output_file_is_read_whatever_the_case_of_its_headings_and_codes(make_app, tmp_path):
    """The output CSV's headings and return-code cells are not settled by public material:
    `mis_identifier`, `Return Code` and `RC003 - Possible matches` are read as meant."""
    app = make_app()
    centre(app, tmp_path, 300)
    [request] = write_requests(app, tmp_path / "out", None, None, MOMENT).written
    output = tmp_path / "LRB_58231_071220260930_OUTPUT.CSV"
    answered = output_from(request, output, 2, ("RC003 - Possible matches", "rc001", "RC2"))
    rows = list(csv.reader(output.read_text(encoding="utf-8").splitlines()))
    rows[0] = [name.replace("MISIdentifier", "mis_identifier").replace("ReturnCode",
                                                                      "Return Code")
               for name in rows[0]]
    with output.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    results = import_results(app, output, None, None, OPTIONS)
    assert [e.code for e in results.exceptions] == ["RC003", "RC003"]
    assert results.answered == len(answered) and results.summary.events >= len(answered)


def test_an_output_file_without_the_file_header_columns_is_read_with_on(make_app, tmp_path):
    app = make_app()
    centre(app, tmp_path, 300)
    [request] = write_requests(app, tmp_path / "out", None, None, MOMENT).written
    full = tmp_path / "full.csv"
    answered = output_from(request, full, 0)
    rows = [row[4:] for row in csv.reader(full.read_text(encoding="utf-8").splitlines())]
    bare = tmp_path / "answer.csv"
    with bare.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(ImportRefused) as refused:
        import_results(app, bare, None, None, OPTIONS)  # no file name to date it by
    assert refused.value.problems[0].line == 2 and "--on" in refused.value.problems[0].reason
    number = next(iter(learners_to_look_up(app, None)))
    results = import_results(app, bare, number, date(2026, 12, 7), OPTIONS)
    assert results.answered == len(answered) and not results.exceptions


def test_fewer_than_50_learners_are_listed_for_the_portal_not_written(make_app, tmp_path):
    app = make_app()
    centre(app, tmp_path, 40)
    result = write_requests(app, tmp_path / "out", None, None, MOMENT)
    assert result.written == [] and next(iter(result.single.values()))
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(("change", "line", "reason"), [
    (lambda rows: rows[1].__setitem__(0, "1A"), 2, "the file version must be 2A"),
    (lambda rows: rows[0].remove("ReturnCode"), 1, "missing column(s) ReturnCode"),
    (lambda rows: rows[0].__setitem__(5, "Learner"), 1, "missing column(s) MISIdentifier"),
    (lambda rows: rows[3].__setitem__(-1, "RC999"), 4, "'RC999' is not an LRS batch return"),
    (lambda rows: rows[3].__setitem__(-1, ""), 4, "'' is not an LRS batch return code"),
    (lambda rows: rows[2].__setitem__(4, ""), 3, "is required with RC00"),
])
def test_a_malformed_output_file_is_refused_with_its_line_and_reason(
    make_app, tmp_path, change, line, reason
):
    app = make_app()
    centre(app, tmp_path, 500)
    [request] = write_requests(app, tmp_path / "out", None, None, MOMENT).written
    output = tmp_path / "LRB_58231_071220260930_OUTPUT.CSV"
    output_from(request, output, exceptions=0)
    rows = list(csv.reader(output.read_text(encoding="utf-8").splitlines()))
    change(rows)
    with output.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(ImportRefused) as refused:
        import_results(app, output, None, None, OPTIONS)
    problem = refused.value.problems[0]
    assert problem.line == line and reason in problem.reason


def test_a_learner_whose_lrs_details_change_after_verification_is_asked_about_again(
    make_app, tmp_path
):
    from aggregates.learner import Context

    app = make_app()
    centre(app, tmp_path, 120)
    verified = next(learner for learner in _all_learners(app)
                    if learner.uln_status()[1] == "confirmed")
    assert lookup_reason(verified) is None
    verified.amend("family_name", "Marsh", "married", verified.facts[-1].occurred_on,
                   Context(actor="officer", source="test"))
    assert lookup_reason(verified) == "LRS-checked details changed since the last verification"


def _all_learners(app):
    from uuid import UUID

    from ledger.imports.writing import load_learners
    from ledger.reporting.reports import current_timelines

    timelines, _ = current_timelines(app)
    return [learner for learner in load_learners(
        app, [UUID(str(t["learner_id"])) for t in timelines]).values() if learner]
