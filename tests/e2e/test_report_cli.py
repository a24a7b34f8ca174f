"""The report commands as a quality officer runs them: exact output, as-at, evidence, errors."""

from __future__ import annotations

import json
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli


class Ledger:
    """Runs `ledger --db URL ...` with click's test runner."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, ["--db", self.url, "--actor", "officer", *args])
        assert result.exit_code == code, (result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--format", "json").stdout)


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    return Ledger(db_url)


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


def add(ledger: Ledger, ref: str, centre: str = "C1", **extra: str) -> None:
    options = {"given-name": "Ada", "family-name": "Lovelace", "dob": "2000-01-01",
               "gender": "2", **extra}
    args = [f"--{key}={value}" for key, value in options.items()]
    ledger("learner", "add", ref, "--centre", centre, *args)


def enrol(ledger: Ledger, ref: str, body: str = "AIM", start: str = "2026-04-01",
          end: str = "2026-07-15", enrolment: str = "E1") -> None:
    ledger("enrol", ref, enrolment, "--awarding-body", body, "--qualification", "603/1/1",
           "--title", "Certificate in Customer Service", "--start", start,
           "--planned-end", end)


def statuses(document: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {row["learner"]: (row["status"], row["days_late"]) for row in document["rows"]}


def test_as_at_before_a_backdated_registration_shows_it_overdue_and_after_by_business_date(
    ledger: Ledger,
) -> None:
    for ref in ("L1", "L2"):
        add(ledger, ref)
        enrol(ledger, ref)
    time.sleep(0.01)
    before = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    ledger("register", "L1", "E1", "--submitted", "2026-05-11")   # the deadline day
    ledger("register", "L2", "E1", "--submitted", "2026-05-12")   # the day after
    then = ledger.json("report", "late-registrations", "--as-at", before, "--on", "2026-06-01")
    now = ledger.json("report", "late-registrations", "--on", "2026-06-01")
    assert statuses(then) == {"L1": ("overdue", 21), "L2": ("overdue", 21)}
    assert statuses(now) == {"L1": ("on-time", 0), "L2": ("late", 1)}
    assert [row["submitted"] for row in now["rows"]] == ["2026-05-11", "2026-05-12"]
    assert then["as_at"] == datetime.fromisoformat(before).isoformat()


def test_every_finding_names_its_rule_and_its_evidence_is_in_the_audit(ledger: Ledger) -> None:
    add(ledger, "L1", uln="1000000043")
    enrol(ledger, "L1")
    ledger("register", "L1", "E1", "--submitted", "2026-05-20")
    ledger("assess", "L1", "E1", "--started", "2026-05-21")
    ledger("claim", "L1", "E1", "--claimed", "2026-07-01")
    ledger("uln-result", "L1", "--code", "WSVRC001", "--on", "2026-04-10")
    ledger("amend", "L1", "--set", "family_name=Byron", "--reason", "married", "--on",
           "2026-04-20")
    add(ledger, "L2", **{"given-name": "ADA"})
    enrol(ledger, "L2", body="IMI")
    ledger("withdraw", "L2", "E1", "--left", "2026-05-01", "--reason", "left")
    add(ledger, "L3", uln="1000102504")
    enrol(ledger, "L3", body="IMI")
    ledger("uln-result", "L3", "--code", "WSVRC005", "--on", "2026-04-10")
    found = ledger.json("report", "maladministration", "--on", "2026-11-01")["rows"]
    kinds = {(f["rule"], f["learner"]) for f in found}
    assert kinds == {
        ("late-registration", "L1"), ("assessment-before-registration", "L1"),
        ("claim-eligibility", "L1"), ("lrs-reverification", "L1"),
        ("data-quality", "L2"), ("uln-rejected-uncorrected", "L3"),
        ("late-registration", "L3"), ("registration-check", "L1"),  # AIM 3.4: never checked
    }
    for finding in found:
        assert finding["rule_version"] and finding["clause"] and finding["message"]
        audit = ledger.json("audit", finding["learner"])["events"]
        recorded = {row["position"] for row in audit if row["status"] == "recorded"}
        assert finding["evidence"] and set(finding["evidence"]) <= recorded, finding


def test_late_registrations_as_csv_exactly(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1", body="IMI", enrolment="E2")
    sqlite_ledger("register", "L1", "E2", "--submitted", "2026-07-01")  # after --on: not counted
    result = sqlite_ledger("report", "late-registrations", "--on", "2026-05-05",
                           "--format", "csv")
    digest = result.stderr.split("Ledger digest: ")[1].split()[0]
    assert digest == sqlite_ledger.json("report", "late-registrations")["ledger_digest"]
    # every row names the date it was judged on, the ledger state, the centre and evidence
    assert result.stdout == (
        "learner,enrolment,awarding_body,programme_start,deadline,submitted,status,days_late,"
        "rule,judged_on,ledger_digest,centre,evidence\n"
        "L1,E1,AIM,2026-04-01,2026-05-11,,at-risk,0,\"AIM registration and certification "
        f"policy (v1.0), clause 3.2: 25 working days\",2026-05-05,{digest},C1,4\n"
        "L1,E2,IMI,2026-04-01,2026-06-30,,on-time,0,\"IMI registration guidance "
        f"(issue 10), introduction: 90 days\",2026-05-05,{digest},C1,5\n"
    )


def test_reports_filter_by_awarding_body_and_centre(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1", centre="C1")
    enrol(sqlite_ledger, "L1")
    add(sqlite_ledger, "L2", centre="C2")
    enrol(sqlite_ledger, "L2", body="IMI")
    by_body = sqlite_ledger.json("report", "late-registrations", "--awarding-body", "imi")
    by_centre = sqlite_ledger.json("report", "late-registrations", "--centre", "C1")
    assert [r["learner"] for r in by_body["rows"]] == ["L2"]
    assert [r["learner"] for r in by_centre["rows"]] == ["L1"]


def test_a_report_sees_events_recorded_since_the_last_one(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1")
    first = sqlite_ledger.json("report", "late-registrations", "--on", "2026-06-01")
    sqlite_ledger("register", "L1", "E1", "--submitted", "2026-05-01")
    second = sqlite_ledger.json("report", "late-registrations", "--on", "2026-06-01")
    assert statuses(first) == {"L1": ("overdue", 21)}
    assert statuses(second) == {"L1": ("on-time", 0)}


def test_a_retracted_registration_never_counts(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1")
    sqlite_ledger("report", "late-registrations")  # materialise before the retraction
    sqlite_ledger("register", "L1", "E1", "--submitted", "2026-05-01")
    position = sqlite_ledger.json("audit", "L1")["events"][-1]["position"]
    sqlite_ledger("retract", str(position), "--reason", "wrong learner")
    document = sqlite_ledger.json("report", "late-registrations", "--on", "2026-06-01")
    assert statuses(document) == {"L1": ("overdue", 21)}


def test_rebuild_recomputes_the_tables_and_reports_agree(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1")
    before = sqlite_ledger("report", "maladministration", "--format", "csv").stdout
    assert sqlite_ledger("rebuild").stdout == "Rebuilt the report tables from 2 learner events\n"
    assert sqlite_ledger("report", "maladministration", "--format", "csv").stdout == before
    rebuilt = sqlite_ledger("rebuild", "--workers", "2")
    assert rebuilt.stdout == "Rebuilt the report tables from 2 learner events\n"
    assert sqlite_ledger("report", "maladministration", "--format", "csv").stdout == before


def test_replay_shows_each_event_and_the_state_after_it(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1", uln="1000000043")
    add(sqlite_ledger, "L2")
    enrol(sqlite_ledger, "L1")
    sqlite_ledger("register", "L1", "E1", "--submitted", "2026-04-10")
    sqlite_ledger("uln-result", "L1", "--code", "WSVRC001", "--on", "2026-04-12")
    steps = sqlite_ledger.json("replay", "--learner", "L1")["steps"]
    assert [s["event"] for s in steps] == [
        "Recorded", "Enrolled", "RegistrationSubmitted", "LrsResultRecorded"]
    assert steps[0]["state"]["uln_status"] == "unverified"
    assert steps[2]["state"]["enrolments"]["E1"]["registration"] == "submitted"
    assert steps[3]["state"]["uln_status"] == "confirmed"
    table = sqlite_ledger("replay", "--learner", "L1", "--timezone", "Asia/Tokyo").stdout
    assert "Replay (recorded times in Asia/Tokyo)" in table
    assert " +09:00" in table and "state text" not in table
    assert "ULN confirmed" in table
    until = sqlite_ledger.json("replay", "--until", str(steps[1]["position"]))["steps"]
    assert [(s["learner"], s["event"]) for s in until] == [
        ("L1", "Recorded"), ("L2", "Recorded"), ("L1", "Enrolled")]


def test_replay_until_a_moment_stops_there(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    time.sleep(0.01)
    moment = datetime.now(UTC).isoformat()
    enrol(sqlite_ledger, "L1")
    steps = sqlite_ledger.json("replay", "--until", moment)["steps"]
    assert [s["event"] for s in steps] == ["Recorded"]


def test_audit_listing_of_a_centre_between_dates(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1", centre="C1")
    add(sqlite_ledger, "L2", centre="C2")
    today = datetime.now(UTC).date().isoformat()
    rows = sqlite_ledger.json("report", "audit", "--centre", "C1", "--from", today)["rows"]
    assert [(r["learner"], r["event"]) for r in rows] == [("L1", "Recorded")]
    none = sqlite_ledger.json("report", "audit", "--centre", "C1", "--to", "2020-01-01")
    assert none["rows"] == []


def test_a_centre_adds_its_own_awarding_body_as_data(sqlite_ledger: Ledger,
                                                     tmp_path: Path) -> None:
    (tmp_path / "othm.toml").write_text(
        'awarding_body = "OTHM"\n[[versions]]\nversion = "2025"\n'
        'effective_from = 2025-01-01\nsource = "OTHM guidance"\n'
        '[versions.rules.late-registration]\nclause = "2.1"\ndays = 28\nunit = "calendar"\n')
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1", body="OTHM")
    without = sqlite_ledger("report", "late-registrations", "--format", "json")
    assert json.loads(without.stdout)["rows"] == []
    assert without.stderr.count("not judged") == 1
    assert "not judged, no rule in force (OTHM 1)" in without.stderr
    document = sqlite_ledger.json("report", "late-registrations", "--policies", str(tmp_path),
                                  "--on", "2026-05-01")
    assert [(r["deadline"], r["status"]) for r in document["rows"]] == [
        ("2026-04-29", "overdue")]


def test_a_broken_rule_file_is_an_error_naming_file_and_key(sqlite_ledger: Ledger,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('awarding_body = "BAD"\n[[versions]]\nversion = "1"\n'
                    'effective_from = 2025-01-01\nsource = "x"\n'
                    '[versions.rules.late-registration]\nclause = "1"\ndays = "ninety"\n'
                    'unit = "calendar"\n')
    result = sqlite_ledger("report", "maladministration", "--policies", str(tmp_path), code=1)
    assert result.stderr == (f"Error: rule set {path}: versions[0].rules.late-registration."
                             "days: must be a positive whole number, not 'ninety'\n")
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (("report", "late-registrations", "--on", "31/02/2026"), "Error: on: '31/02/2026' is not "
                                                             "a real date"),
    (("report", "late-registrations", "--as-at", "yesterday"), "Error: as_at: 'yesterday' is "
                                                               "not a date or ISO date-time"),
    (("report", "maladministration", "--nation", "Cornwall"), "Error: nation 'Cornwall' is not "
                                                              "one of England"),
    (("replay", "--learner", "NOBODY"), "Error: no learner 'NOBODY' is recorded"),
])
def test_user_mistakes_are_one_line_errors(sqlite_ledger: Ledger, args: tuple[str, ...],
                                           message: str) -> None:
    sqlite_ledger("init")
    result = sqlite_ledger(*args, code=1)
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output


def test_an_audit_of_a_learner_not_at_the_centre_given_is_an_error(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1", centre="C1")
    result = sqlite_ledger("audit", "L1", "--centre", "C2", code=1)
    assert result.stderr == "Error: no learner 'L1' at centre C2\n"
    assert result.stdout == ""
    result = sqlite_ledger("audit", "NOBODY", code=1)
    assert result.stderr == "Error: no learner 'NOBODY' is recorded\n"
    audit = json.loads(sqlite_ledger("audit", "L1", "--format", "json").stdout)
    assert (audit["centre"], [row["event"] for row in audit["events"]]) == (
        "C1", ["Recorded"])


def test_check_exits_1_when_there_are_findings(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    sqlite_ledger("report", "maladministration", "--check")
    enrol(sqlite_ledger, "L1", body="IMI", start="2026-01-05", end="2026-12-01")
    sqlite_ledger("report", "maladministration", "--check", "--on", "2026-06-01", code=1)


@pytest.mark.parametrize("command", [
    ("report",), ("report", "late-registrations"), ("report", "maladministration"),
    ("report", "certificates"), ("rules",),
    ("report", "audit"), ("report", "rules"), ("rebuild",), ("replay",),
])
def test_every_report_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 3


def test_the_table_starts_with_counts_by_status_and_by_severity(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1", body="IMI", enrolment="E2")
    sqlite_ledger("register", "L1", "E2", "--submitted", "2026-07-01")
    late = sqlite_ledger("report", "late-registrations", "--on", "2026-07-01").stdout
    found = sqlite_ledger("report", "maladministration", "--on", "2026-07-01").stdout
    assert late.splitlines()[:3] == ["2 enrolments: 1 late, 1 overdue",
                                     "  AIM: 1 enrolment: 1 overdue",
                                     "  IMI: 1 enrolment: 1 late"]  # and by awarding body
    assert found.splitlines()[0] == "2 findings: 2 major"
    one_body = sqlite_ledger("report", "late-registrations", "--on", "2026-07-01",
                             "--awarding-body", "IMI").stdout
    assert one_body.splitlines()[:2] == ["1 enrolment: 1 late",
                                         "Late registrations judged on 2026-07-01"]


def test_status_and_limit_filter_the_rows_but_not_the_summary(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1", body="IMI", enrolment="E2")
    sqlite_ledger("register", "L1", "E2", "--submitted", "2026-07-01")
    rows = sqlite_ledger.json("report", "late-registrations", "--on", "2026-07-01",
                              "--status", "late")["rows"]
    assert [(row["enrolment"], row["status"]) for row in rows] == [("E2", "late")]
    one = sqlite_ledger("report", "late-registrations", "--on", "2026-07-01", "--limit", "1")
    assert one.stdout.splitlines()[0] == "2 enrolments: 1 late, 1 overdue"
    assert "Showing 1 of 2 rows" in one.stdout
    enrol(sqlite_ledger, "L1", body="IMI", enrolment="E3")
    overdue = sqlite_ledger("report", "late-registrations", "--on", "2026-07-01",
                            "--status", "overdue", "--limit", "1")
    assert "--status overdue --limit 0" in " ".join(overdue.stdout.split())  # the hint
    # shows the rest of the rows asked for, not every status's
    refused = sqlite_ledger("report", "late-registrations", "--status", "tardy", code=1)
    assert refused.exit_code == 1 and "tardy" in refused.stderr


def hinted_command(output: str) -> list[str]:
    """The command the hint under a cut table gives for every row, as arguments."""
    hint = " ".join(output.split())
    assert "every row: `" in hint, output
    command = shlex.split(hint.split("every row: `", 1)[1].split("`", 1)[0])
    assert command[0] == "ledger"
    return command[1:]


def test_the_hint_under_a_cut_table_repeats_the_options_given_and_shows_every_row(
        sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1")
    for index in range(3):
        enrol(sqlite_ledger, "L1", body="IMI", enrolment=f"E{index}")
    cut = sqlite_ledger("report", "late-registrations", "--on", "2026-07-01", "--centre", "C1",
                        "--awarding-body", "IMI", "--status", "overdue", "--limit", "1")
    command = hinted_command(cut.stdout)
    assert command == ["--db", sqlite_ledger.url, "--actor", "officer", "report",
                       "late-registrations", "--on", "2026-07-01", "--awarding-body", "IMI",
                       "--centre", "C1", "--status", "overdue", "--limit", "0"]
    every = sqlite_ledger.runner.invoke(cli, command)
    assert every.exit_code == 0, every.output
    assert "Showing" not in every.stdout
    assert [line.split()[1] for line in every.stdout.splitlines()
            if line.startswith("L1 ")] == ["E0", "E1", "E2"]
    found = sqlite_ledger("report", "maladministration", "--on", "2026-07-01", "--limit", "1")
    assert hinted_command(found.stdout) == [
        "--db", sqlite_ledger.url, "--actor", "officer", "report", "maladministration",
        "--on", "2026-07-01", "--limit", "0"]


def test_the_hint_quotes_a_database_url_for_the_shell_and_leaves_out_the_environment_s(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    url = f"sqlite:///{folder / 'ledger.db'}"
    ledger = Ledger(url)
    add(ledger, "L1")
    enrol(ledger, "L1")
    enrol(ledger, "L1", enrolment="E2")
    cut = ledger("report", "late-registrations", "--on", "2026-07-01", "--limit", "1")
    assert hinted_command(cut.stdout)[:2] == ["--db", url]
    assert shlex.quote(url) in " ".join(cut.stdout.split())
    monkeypatch.setenv("LEDGER_DB", url)
    from_env = ledger.runner.invoke(cli, ["report", "late-registrations", "--on", "2026-07-01",
                                          "--limit", "1"])
    assert from_env.exit_code == 0, from_env.output
    assert hinted_command(from_env.stdout) == ["report", "late-registrations", "--on",
                                               "2026-07-01", "--limit", "0"]


def test_rules_lists_the_shipped_rule_sets(sqlite_ledger: Ledger) -> None:
    rows = sqlite_ledger.json("report", "rules")["rows"]
    versions = {(r["awarding_body"], r["version"], r["effective_from"]) for r in rows
                if r["awarding_body"] != "every awarding body"}
    assert versions == {("AIM", "policy-1.0", "2026-03-24"), ("GATEWAY", "2024", "2024-01-01"),
                        ("IMI", "issue-10", "2025-08-01")}


def test_a_report_names_the_digest_of_the_ledger_it_was_computed_from(ledger: Ledger) -> None:
    add(ledger, "L1")
    enrol(ledger, "L1")
    time.sleep(0.01)
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    ledger("register", "L1", "E1", "--submitted", "2026-05-11")
    report = ledger.json("report", "late-registrations")
    earlier = ledger.json("report", "late-registrations", "--as-at", moment)
    assert report["ledger_digest"] == ledger.json("digest")["digest"]
    assert int(earlier["ledger_digest"].split(":")[0]) < int(report["ledger_digest"].split(":")[0])
    add(ledger, "L2")
    for kept in (report, earlier):
        assert "nothing up to position" in ledger("verify", "--digest",
                                                  kept["ledger_digest"]).stdout
    table = ledger("report", "maladministration").stdout
    last = table.split("\nLedger digest:")[-1].split()  # folded at spaces, at the end
    assert last[0] == ledger.json("report", "maladministration")["ledger_digest"]
    assert last[-1].endswith("`)")


def test_reports_can_be_redacted_for_sharing(sqlite_ledger: Ledger) -> None:
    add(sqlite_ledger, "L1", dob="1901-01-01", postcode="SW1A 1AA")
    enrol(sqlite_ledger, "L1")
    shared = sqlite_ledger.json("report", "maladministration", "--redact")
    assert shared["redacted"] is True
    text = json.dumps(shared)
    assert "1901-01-01" not in text and "SW1A" not in text
    assert any(row["rule"] == "data-quality" for row in shared["rows"])


def test_ledger_rules_shows_each_rule_with_its_clause_and_quote(sqlite_ledger: Ledger) -> None:
    rows = sqlite_ledger.json("rules")["rows"]
    aim = {row["rule"]: row for row in rows if row["awarding_body"] == "AIM"}
    assert aim["withdrawal-notification"]["cited"] == (
        "AIM registration and certification policy (v1.0), clause 4.2")
    assert "within 30 days of the learner withdrawing" in aim["withdrawal-notification"]["quote"]
    assert aim["persistent-late-registration"]["cited"].startswith("centre policy: ")
    assert all(row["quote"] for row in rows if row["awarding_body"] != "every awarding body")
    text = sqlite_ledger("rules", "--awarding-body", "IMI").stdout
    assert "IMI registration guidance (issue 10) (in force from 2025-08-01)" in text
    assert "issue-10" not in text
    assert "uln-apprenticeship (major): IMI registration guidance (issue 10), ULN section" in text
    assert "“For Apprenticeship Standards it is a mandatory requirement" in text
    assert "AIM" not in text


def test_ledger_rules_ends_with_how_the_ledger_counts(sqlite_ledger: Ledger) -> None:
    text = sqlite_ledger("rules").stdout
    counting = " ".join(text.split("How the ledger counts")[1].split())  # wrapped lines
    assert "day 0" in counting and "rejected does not count as submitted" in counting
    assert "planned end minus its programme start" in counting
    assert "day the registration is confirmed is not before" in counting
    assert sqlite_ledger.json("rules")["conventions"]["day_zero"].startswith("Deadlines")


def test_the_certificates_report_lists_those_held_and_due_for_contact(ledger: Ledger) -> None:
    add(ledger, "L1")
    enrol(ledger, "L1")
    ledger("register", "L1", "E1", "--submitted", "2026-04-08", "--confirmed", "2026-04-09",
           "--ao-ref", "AIM-1")
    ledger("complete", "L1", "E1", "--iqa-signed-off", "2026-06-01")
    ledger("claim", "L1", "E1", "--claimed", "2026-06-02")
    ledger("certificate", "L1", "E1", "--received", "2026-06-30", "--issued", "2026-07-01")
    document = ledger.json("report", "certificates", "--on", "2026-11-01")
    (row,) = document["rows"]
    assert (row["learner"], row["held_until"], row["status"]) == ("L1", "2027-06-30", "held")
    assert document["report"] == "certificates" and document["ledger_digest"]
    table = ledger("report", "certificates", "--on", "2026-11-01").stdout
    assert "1 certificates not collected: 1 held" in table
def test_enrolments_no_rule_set_judges_are_recorded_and_reported_apart_with_one_note(
    sqlite_ledger: Ledger,
) -> None:
    for number in range(30):
        add(sqlite_ledger, f"N{number}")
        enrol(sqlite_ledger, f"N{number}", body="NCFE")
    add(sqlite_ledger, "A1")
    enrol(sqlite_ledger, "A1", body="AIM", start="2020-01-06", end="2020-06-01")
    result = sqlite_ledger("report", "late-registrations", "--format", "json")
    assert result.stderr.count("\n") == 1  # one line, not one an enrolment
    document = json.loads(result.stdout)
    assert document["rows"] == []
    assert document["not_judged"] == [
        {"awarding_body": "AIM", "reason": "starts before the first version of its rule set",
         "enrolments": 1},
        {"awarding_body": "NCFE", "reason": "no rule set for this awarding body",
         "enrolments": 30}]
    assert len(document["unjudged"]) == 31
    rows = sqlite_ledger("report", "late-registrations", "--format", "csv").stdout.splitlines()
    assert sum(",not-judged," in row for row in rows) == 31
    table = sqlite_ledger("report", "maladministration").stdout
    assert "Not judged: 31 enrolment(s)" in table
    findings = sqlite_ledger.json("report", "maladministration")
    assert findings["not_judged"] == document["not_judged"]


def test_both_reports_leave_out_of_not_judged_an_enrolment_not_started_on_the_date(
    sqlite_ledger: Ledger,
) -> None:
    add(sqlite_ledger, "N1")
    enrol(sqlite_ledger, "N1", body="NCFE")
    before_start = ("--on", "2026-03-01")
    late = sqlite_ledger.json("report", "late-registrations", *before_start)
    found = sqlite_ledger.json("report", "maladministration", *before_start)
    assert late["not_judged"] == found["not_judged"] == []
    assert sqlite_ledger.json("report", "maladministration")["not_judged"] == [
        {"awarding_body": "NCFE", "reason": "no rule set for this awarding body",
         "enrolments": 1}]


def test_the_rules_listing_shows_every_awarding_body_in_use_with_its_coverage(
    sqlite_ledger: Ledger,
) -> None:
    add(sqlite_ledger, "L1")
    enrol(sqlite_ledger, "L1", body="AIM")
    add(sqlite_ledger, "L2")
    enrol(sqlite_ledger, "L2", body="NCFE")
    document = sqlite_ledger.json("rules")
    assert document == sqlite_ledger.json("report", "rules")
    used = {row["awarding_body"]: (row["enrolments"], row["coverage"])
            for row in document["coverage"]}
    assert used["AIM"] == (1, "100%") and used["NCFE"] == (1, "0%")
    assert used["IMI"] == (0, "not in use")


@pytest.mark.parametrize("typed", ["I MI", "i.m.i", "I-M-I"])
def test_an_awarding_body_differing_from_a_known_one_in_case_or_spacing_is_suggested_not_taken(
    sqlite_ledger: Ledger, typed: str,
) -> None:
    add(sqlite_ledger, "L1")
    refused = sqlite_ledger("enrol", "L1", "E1", "--awarding-body", typed, "--qualification",
                            "603/1/1", "--title", "T", "--start", "2026-04-01",
                            "--planned-end", "2026-07-15", code=1)
    assert "did you mean IMI?" in refused.stderr
    report = sqlite_ledger("report", "late-registrations", "--awarding-body", typed, code=1)
    assert "did you mean IMI?" in report.stderr
    assert sqlite_ledger.json("report", "late-registrations")["unjudged"] == []


@pytest.mark.parametrize("width", [80, 120])
def test_report_tables_fit_the_terminal_and_split_no_date_or_reference(
    sqlite_ledger: Ledger, width: int,
) -> None:
    add(sqlite_ledger, "LEARNER-WITH-A-LONG-REFERENCE")
    enrol(sqlite_ledger, "LEARNER-WITH-A-LONG-REFERENCE", enrolment="ENROLMENT-1")
    sqlite_ledger("assess", "LEARNER-WITH-A-LONG-REFERENCE", "ENROLMENT-1",
                  "--started", "2026-05-01")
    add(sqlite_ledger, "L2")
    enrol(sqlite_ledger, "L2", body="IMI")
    runner = CliRunner(env={"COLUMNS": str(width)})
    for report in ("late-registrations", "maladministration"):
        args = ["--db", sqlite_ledger.url, "report", report, "--on", "2026-11-01"]
        table = runner.invoke(cli, args).stdout
        document = json.loads(runner.invoke(cli, [*args, "--format", "json"]).stdout)
        lines = table.splitlines()
        assert max(map(len, lines)) <= width, table
        tokens = {token for line in lines for token in line.split()}
        for row in document["rows"]:
            for key in ("learner", "enrolment", "deadline", "programme_start", "days_late"):
                if row.get(key) is not None:
                    assert str(row[key]) in tokens, (key, row[key], table)
        assert document["ledger_digest"] in tokens


def test_a_read_only_file_gives_the_reports_the_kept_rows_give(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    add(ledger, "L1")
    enrol(ledger, "L1")
    add(ledger, "L2")
    enrol(ledger, "L2", body="IMI", start="2026-12-01", end="2027-06-01")  # not started
    ledger("assess", "L1", "E1", "--started", "2026-05-01")
    reports = [("report", report, "--on", "2026-11-01", "--format", fmt)
               for report in ("late-registrations", "maladministration")
               for fmt in ("csv", "json", "table")]
    [ledger(*args) for args in reports]  # the kept rows made
    ledger("register", "L1", "E1", "--submitted", "2026-06-01")  # and fallen behind
    path.chmod(0o444)
    try:  # the stored timelines with the new events folded in memory, judged in Python
        read_only = [ledger(*args).stdout for args in reports]
    finally:
        path.chmod(0o600)
    kept = [ledger(*args).stdout for args in reports]
    assert read_only == kept
    assert "2026-06-01" in kept[0]
