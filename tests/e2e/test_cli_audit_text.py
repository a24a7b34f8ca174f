"""`ledger audit` as text: one event a line, its changes below, local times, why positions
skip; JSON keeps UTC."""

import json
import re
from datetime import datetime

import pytest

LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Siân",
           "--family-name", "O'Brien", "--dob", "2004-05-06", "--gender", "2",
           "--email", "sian.obrien@example.org"]
ENROL = ["enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
         "--title", "Level 3 Diploma in Light Vehicle Maintenance and Repair Principles",
         "--start", "2026-09-01", "--planned-end", "2027-07-31"]
HEADLINE = re.compile(r"^ *(\d+)  (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d)  (\w+)")


@pytest.fixture
def recorded(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    ledger("learner", "add", "L2", "--centre", "C1", "--given-name", "Bob",
           "--family-name", "Jones", "--dob", "2004-05-06", "--gender", "1")
    ledger("withdraw", "L1", "E1", "--left", "2026-11-02", "--reason", "requested",
           "--note", "rang \x1b[31m07700 900123\x1b[0m")
    return ledger


@pytest.mark.parametrize("width", ["80", "120"])
def test_each_event_is_one_line_with_its_changes_indented_below(recorded, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", width)
    lines = recorded("audit", "L1").stdout.splitlines()
    assert lines[0] == "Audit of L1 at centre C1: 3 events, recorded times in Europe/London"
    heads = [HEADLINE.match(line) for line in lines]
    assert [m.group(3) for m in heads if m] == ["Recorded", "Enrolled", "Withdrawn"]
    assert all(len(line) <= int(width) for line in lines)
    assert "        family name: O'Brien" in lines
    assert "        email: sian.obrien@example.org" in lines
    assert "\x1b" not in "".join(lines)
    assert any("\\x1b[31m07700 900123\\x1b[0m" in line for line in lines)


def test_recorded_times_are_local_with_their_offset_and_json_keeps_utc(recorded, monkeypatch):
    monkeypatch.setenv("LEDGER_TIMEZONE", "Asia/Kolkata")
    text = recorded("audit", "L1").stdout
    document = json.loads(recorded("audit", "L1", "--format", "json").stdout)
    utc = datetime.fromisoformat(document["events"][0]["recorded"])
    assert utc.utcoffset().total_seconds() == 0
    first = HEADLINE.match(text.splitlines()[1])
    local = datetime.fromisoformat(first.group(2).replace(" +", "+"))
    assert first.group(2).endswith("+05:30")
    assert abs((local - utc).total_seconds()) < 1


def test_the_audit_says_why_positions_skip(recorded):
    text = recorded("audit", "L1").stdout.replace("\n", " ")
    assert "learner-reference index" in text
    assert "on PostgreSQL a transaction that was rolled back also leaves a gap" in text


def test_an_unknown_time_zone_is_one_error_line(recorded):
    result = recorded("audit", "L1", "--timezone", "Mars/Olympus")
    assert result.exit_code == 1
    assert result.stderr == "Error: time zone 'Mars/Olympus' is not known (e.g. Europe/London)\n"


def test_redact_masks_the_phone_number_in_a_note(recorded):
    document = json.loads(recorded("audit", "L1", "--redact", "--format", "json").stdout)
    notes = [event["note"] for event in document["events"] if event["note"]]
    assert notes == ["rang \x1b[31m[redacted]\x1b[0m"]


def test_flags_read_yes_or_no_and_gender_codes_carry_their_names(recorded, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    recorded("amend", "L1", "--set", "gender=9", "--reason", "learner asked")
    lines = recorded("audit", "L1").stdout.splitlines()
    assert "        gender: 2 (female)" in lines
    assert "        apprenticeship: no" in lines
    assert "        old: 2 (female)" in lines and "        new: 9 (not specified)" in lines
    assert "        lrs field: yes" in lines
    document = json.loads(recorded("audit", "L1", "--format", "json").stdout)
    changes = [event["changes"] for event in document["events"]]
    assert changes[0]["details"]["gender"] == 2  # JSON keeps the code alone
    assert {"field": "gender", "old": 2, "new": 9}.items() <= changes[-1].items()


def test_a_retraction_names_the_retracted_event_by_position_once(recorded, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    withdrawn = json.loads(recorded("audit", "L1", "--format", "json").stdout)["events"][-1]
    recorded("retract", str(withdrawn["position"]), "--reason", "keyed twice")
    lines = recorded("audit", "L1").stdout.splitlines()
    heads = [line for line in lines if HEADLINE.match(line)]
    assert heads[-1].endswith(f"Retracted  [retracts {withdrawn['position']}]")
    retraction = lines[lines.index(heads[-1]):]
    assert "        retracted kind: withdrawn" in retraction
    assert "        reason: keyed twice" in retraction
    assert not [line for line in retraction if "retracted version" in line or "retracts:" in line]
    document = json.loads(recorded("audit", "L1", "--format", "json").stdout)
    changes = document["events"][-1]["changes"]
    assert changes["retracts"] == withdrawn["position"] and "retracted_version" in changes
