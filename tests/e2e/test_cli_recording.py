"""The recording commands and the audit, as a user runs them."""

import json

import click
import pytest
from click.testing import CliRunner

from cli.main import cli

LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Siân",
           "--family-name", "O'Brien", "--dob", "2004-05-06", "--gender", "2",
           "--postcode", "sw1a 1aa", "--uln", "1000000043"]
ENROL = ["enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
         "--title", "Diploma", "--start", "2026-09-01", "--planned-end", "2027-07-31"]


def all_commands(group, prefix=()):
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(all_commands(cli)), ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(result.output.split("\n\n")[1].strip()) > 10


def test_recording_prints_the_positions_of_the_new_events(ledger):
    assert ledger(*LEARNER).stdout == "Recorded 1 event for L1: 1\n"
    assert ledger(*ENROL).stdout == "Recorded 1 event for L1: 4\n"
    result = ledger("register", "L1", "E1", "--submitted", "2026-09-20", "--confirmed",
                    "2026-09-24", "--ao-ref", "IMI-7", "--format", "json")
    assert json.loads(result.stdout) == {"learner": "L1", "events": [5, 6], "warnings": []}


def test_a_full_history_is_recorded_and_audited_as_json(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    steps = [
        ["uln-result", "L1", "--code", "WSVRC001", "--on", "2026-09-10"],
        ["id-check", "L1", "--document", "passport", "--on", "2026-09-02"],
        ["register", "L1", "E1", "--submitted", "2026-09-20"],
        ["register", "L1", "E1", "--confirmed", "2026-09-24", "--ao-ref", "IMI-7"],
        ["amend", "L1", "--set", "email=sian@example.org", "--reason", "new address"],
        ["assess", "L1", "E1", "--started", "2026-10-01"],
        ["complete", "L1", "E1", "--iqa-signed-off", "2026-11-01"],
        ["claim", "L1", "E1", "--claimed", "2026-11-05"],
        ["certificate", "L1", "E1", "--received", "2026-11-15", "--issued", "2026-11-18"],
    ]
    for step in steps:
        result = ledger(*step)
        assert result.exit_code == 0, (step, result.stderr)
    audit = json.loads(ledger("audit", "L1", "--format", "json").stdout)
    assert [e["event"] for e in audit["events"]] == [
        "Recorded", "Enrolled", "LrsResultRecorded", "IdVerified", "RegistrationSubmitted",
        "RegistrationConfirmed", "DetailsAmended", "AssessmentStarted", "IqaSignedOff",
        "ClaimSubmitted", "CertificateReceived", "CertificateIssued"]
    amended = audit["events"][6]
    assert amended["changes"] == {"field": "email", "old": None, "new": "sian@example.org",
                                  "reason": "new address", "lrs_field": False,
                                  "warnings": []}
    assert {e["actor"] for e in audit["events"]} == {"tester"}


def test_retract_then_audit_shows_the_retraction(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger("withdraw", "L1", "E1", "--left", "2026-10-01", "--reason", "left")
    assert ledger("retract", "5", "--reason", "keyed in error").exit_code == 0
    events = json.loads(ledger("audit", "L1", "--format", "json").stdout)["events"]
    assert [e["status"] for e in events[-2:]] == ["retracted by 6", "retracts 5"]
    assert ledger("withdraw", "L1", "E1", "--left", "2026-10-02", "--reason",
                  "left").exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["learner", "add", "L2", "--centre", "C1", "--given-name", "A", "--family-name", "B",
      "--dob", "2001-01-01", "--gender", "2", "--uln", "1234567890"], "uln: '1234567890'"),
    (["learner", "add", "L2", "--centre", "C1", "--given-name", "Al", "--family-name", "B",
      "--dob", "2001-13-01", "--gender", "2"], "date_of_birth: '2001-13-01' is not a real"),
    (["learner", "add", "L1", "--centre", "C1", "--given-name", "Al", "--family-name", "B",
      "--dob", "2001-01-01", "--gender", "2"], "already recorded"),
    (["enrol", "NOBODY", "E1", "--awarding-body", "IMI", "--qualification", "Q", "--title",
      "T", "--start", "2026-09-01", "--planned-end", "2027-01-01"], "no learner 'NOBODY'"),
    (["uln", "L1", "--uln", "1000000063"], "not a valid ULN"),
    (["uln-result", "L1", "--code", "WSVRC007", "--on", "2026-09-01"], "not an LRS code"),
    (["register", "L1", "E9", "--submitted", "2026-09-01"], "no enrolment 'E9'"),
    (["register", "L1", "E1", "--submitted", "01/02/20x6"], "submitted:"),
    (["amend", "L1", "--set", "shoe_size=9", "--reason", "x"], "'shoe_size' is not one of"),
    (["assess", "L1", "E1", "--started", "2026-08-01"], "before programme start"),
    (["withdraw", "L1", "E1", "--left", "2026-08-31", "--reason", "left"], "before programme"),
    (["complete", "L1", "E1", "--iqa-signed-off", "2099-01-01"], "in the future"),
    (["claim", "L1", "E2", "--claimed", "2026-10-01"], "no enrolment 'E2'"),
    (["certificate", "L1", "E1", "--received", "2026-10-01"], "no claim submitted"),
    (["retract", "999", "--reason", "x"], "no event at position 999"),
    (["audit", "L1", "--as-at", "yesterday"], "as_at: 'yesterday'"),
])
def test_bad_input_gives_one_error_line_exit_1_and_records_nothing(ledger, args, message):
    for setup in (LEARNER, ENROL):
        done = ledger(*setup)
        assert done.exit_code == 0, done.stderr
    before = ledger("audit", "L1", "--format", "json").stdout
    result = ledger(*args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert ledger("audit", "L1", "--format", "json").stdout == before


@pytest.mark.parametrize("args", [["enrol", "L1", "E1"], ["retract", "seven", "--reason", "x"],
                                  ["no-such-command"]])
def test_usage_mistakes_are_one_error_line_with_exit_1(ledger, args):
    result = ledger(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ledger")
    assert result.stderr.count("\n") == 1


def test_an_unusable_database_url_is_one_error_line():
    result = CliRunner().invoke(cli, ["--db", "mysql://x/y", "audit", "L1"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database URL 'mysql://x/y'")


def test_data_quality_warnings_are_shown_when_recording(ledger):
    result = ledger("learner", "add", "L9", "--centre", "C1", "--given-name", "Anna",
                    "--family-name", "SMITH", "--dob", "1901-01-01", "--gender", "2")
    assert result.stdout == "Recorded 1 event for L9: 1\n"
    assert result.stderr.splitlines() == [
        "Warning: family_name: 'SMITH' is all capitals",
        "Warning: date_of_birth: 1901-01-01 is a placeholder, not a real date of birth"]


@pytest.mark.parametrize(("args", "message"), [
    ([*ENROL[:-4], "--start", "9999-12-01", "--planned-end", "9999-12-31"],
     "start: 9999-12-01 is not a plausible programme start"),
    (["amend", "L1", "--set", "family_name=Ames", "--set", "family_name=Barr", "--reason",
      "x"], "family_name is given more than once"),
    (["retract", "99999999999999999999999", "--reason", "x"], "EVENT_ID"),
    (["replay", "--until", "99999999999999999999999"], "beyond the last possible position"),
])
def test_typos_that_used_to_slip_through_are_refused(ledger, args, message):
    ledger(*LEARNER)
    result = ledger(*args)
    assert (result.exit_code, result.stderr.count("\n")) == (1, 1)
    assert message in result.stderr


def test_a_withdrawal_cannot_predate_a_recorded_iqa_sign_off(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger("complete", "L1", "E1", "--iqa-signed-off", "2026-10-01")
    result = ledger("withdraw", "L1", "E1", "--left", "2026-09-20", "--reason", "left")
    assert result.exit_code == 1
    assert "before the recorded IQA sign-off 2026-10-01" in result.stderr
    assert ledger("withdraw", "L1", "E1", "--left", "2026-10-02", "--reason",
                  "No Contact").exit_code == 0


def test_a_retraction_refused_names_the_position_given(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger("claim", "L1", "E1", "--claimed", "2026-10-01")
    ledger("retract", "5", "--reason", "x")
    result = ledger("retract", "5", "--reason", "x")
    assert result.stderr == "Error: event 5: that event is already retracted\n"


def test_a_blank_actor_falls_back_to_the_user(db_url):
    result = CliRunner().invoke(cli, ["--db", db_url, "--actor", "   ", *LEARNER])
    assert result.exit_code == 0
    audit = CliRunner().invoke(cli, ["--db", db_url, "audit", "L1", "--format", "json"])
    assert json.loads(audit.stdout)["events"][0]["actor"].strip() != ""


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused_on_the_command_line(url):
    result = CliRunner().invoke(cli, ["--db", url, *LEARNER])
    assert result.exit_code == 1
    assert "is an in-memory database" in result.stderr


AIM_ENROL = ["enrol", "L1", "E1", "--awarding-body", "AIM", "--qualification", "603/1234/5",
             "--title", "Award", "--start", "2026-04-01", "--planned-end", "2026-07-01"]


def test_registration_checks_units_and_eqa_sampling_are_recorded_and_audited(ledger):
    ledger(*LEARNER)
    ledger(*AIM_ENROL)
    steps = [
        ["register", "L1", "E1", "--submitted", "2026-04-08", "--checked", "2026-04-10"],
        ["register", "L1", "E1", "--confirmed", "2026-04-09", "--ao-ref", "AIM-1"],
        ["complete", "L1", "E1", "--units-completed", "2026-06-25", "--iqa-signed-off",
         "2026-07-01"],
        ["eqa", "L1", "E1", "--required", "2026-06-01", "--sampled", "2026-07-02"],
        ["claim", "L1", "E1", "--claimed", "2026-07-03"],
    ]
    for step in steps:
        result = ledger(*step)
        assert result.exit_code == 0, (step, result.stderr)
    audit = json.loads(ledger("audit", "L1", "--format", "json").stdout)
    assert [e["event"] for e in audit["events"]][2:] == [
        "RegistrationSubmitted", "RegistrationChecked", "RegistrationConfirmed",
        "UnitsCompleted", "IqaSignedOff", "EqaSamplingRequired", "EqaSampled",
        "ClaimSubmitted"]
    found = json.loads(ledger("report", "maladministration", "--on", "2026-11-01",
                              "--format", "json").stdout)["rows"]
    assert [f["rule"] for f in found] == []


def test_a_second_registration_check_is_refused_with_an_error_line(ledger):
    ledger(*LEARNER)
    ledger(*AIM_ENROL)
    ledger("register", "L1", "E1", "--submitted", "2026-04-08", "--checked", "2026-04-10")
    result = ledger("register", "L1", "E1", "--checked", "2026-04-11")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: the registration of E1 was already checked")


def test_complete_and_eqa_need_a_date(ledger):
    ledger(*LEARNER)
    ledger(*AIM_ENROL)
    for command in (["complete", "L1", "E1"], ["eqa", "L1", "E1"]):
        result = ledger(*command)
        assert result.exit_code == 1 and result.stderr.startswith("Error: ")
