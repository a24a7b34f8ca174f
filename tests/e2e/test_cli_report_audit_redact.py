"""`ledger report audit --redact`: a centre's audit listing masked for sharing."""

import json


def test_report_audit_redact_masks_dates_of_birth_emails_and_phone_numbers_in_notes(ledger):
    ledger("learner", "add", "L1", "--centre", "C1", "--given-name", "Ada",
           "--family-name", "Lovelace", "--dob", "2000-01-01", "--gender", "2",
           "--email", "ada@example.org", "--note", "mobile 07700 900123, NI AB123456C")
    plain = json.loads(ledger("report", "audit", "--centre", "C1", "--format", "json").stdout)
    shared = json.loads(ledger("report", "audit", "--centre", "C1", "--redact",
                               "--format", "json").stdout)
    assert shared["redacted"] is True
    assert plain["rows"][0]["changes"]["details"]["email"] == "ada@example.org"
    details = shared["rows"][0]["changes"]["details"]
    assert details["email"] == details["date_of_birth"] == "[redacted]"
    assert details["given_name"] == "Ada"
    assert shared["rows"][0]["note"] == "mobile [redacted], NI [redacted]"


def test_redact_help_says_exactly_what_it_masks(ledger):
    for command in (["audit"], ["report", "audit"], ["report", "late-registrations"]):
        text = " ".join(ledger(*command, "--help").stdout.split())
        assert "UK phone number, date or National Insurance number" in text, command
