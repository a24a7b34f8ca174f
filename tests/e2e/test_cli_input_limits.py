"""Input the CLI refuses or normalises, and how much of a bad value it echoes back."""

import json
import unicodedata

import pytest

LONG = "a" * 100_000
LEARNER = ["learner", "add", "L1", "--centre", "C1", "--given-name", "Ann",
           "--family-name", "Smith", "--dob", "2004-05-06", "--gender", "2"]
ENROL = ["enrol", "L1", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
         "--title", "Diploma", "--start", "2026-09-01", "--planned-end", "2027-07-31"]


def with_option(args, option, value):
    changed = list(args)
    changed[changed.index(option) + 1] = value
    return changed


def audit_events(ledger):
    return json.loads(ledger("audit", "L1", "--format", "json").stdout)["events"]


def test_a_hundred_thousand_character_name_is_echoed_cut_to_about_eighty(ledger):
    result = ledger(*with_option(LEARNER, "--given-name", LONG))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: given_name: 'aaaa")
    assert "100,000 characters" in result.stderr
    assert len(result.stderr) < 200


@pytest.mark.parametrize("name", ["Ann\nMarie", "Ann\r\nMarie", "Ann\u2028Marie"])
def test_a_legal_name_with_a_line_break_is_refused_and_nothing_is_written(ledger, name):
    result = ledger(*with_option(LEARNER, "--given-name", name))
    assert result.exit_code == 1
    assert "line break" in result.stderr
    assert "\n" not in result.stderr.rstrip("\n")
    assert ledger("audit", "L1").exit_code == 1


def test_an_amended_name_with_a_line_break_is_refused(ledger):
    ledger(*LEARNER)
    result = ledger("amend", "L1", "--set", "family_name=Smi\nth", "--reason", "typo")
    assert result.exit_code == 1
    assert "line break" in result.stderr
    assert len(audit_events(ledger)) == 1


def test_a_name_typed_in_decomposed_unicode_is_recorded_in_nfc(ledger):
    decomposed = unicodedata.normalize("NFD", "José")
    assert decomposed != "José"
    result = ledger(*with_option(LEARNER, "--given-name", decomposed))
    assert result.exit_code == 0, result.stderr
    details = audit_events(ledger)[0]["changes"]["details"]
    assert details["given_name"] == "José"


@pytest.mark.parametrize("dob", ["0001-01-01", "1899-12-31", "01/01/0001"])
def test_a_date_of_birth_before_1900_is_refused(ledger, dob):
    result = ledger(*with_option(LEARNER, "--dob", dob))
    assert result.exit_code == 1
    assert "not a plausible date of birth" in result.stderr
    assert ledger("audit", "L1").exit_code == 1


def test_a_hundred_thousand_character_ao_reference_is_refused(ledger):
    ledger(*LEARNER)
    ledger(*ENROL)
    result = ledger("register", "L1", "E1", "--submitted", "2026-09-20", "--confirmed",
                    "2026-09-24", "--ao-ref", LONG)
    assert result.exit_code == 1
    assert "ao_ref: is longer than 40 characters" in result.stderr
    assert len(audit_events(ledger)) == 2


@pytest.mark.parametrize("actor", [LONG, "bob\nalice", "bob\x1b[31m"])
def test_an_actor_too_long_or_with_control_characters_is_refused(db_url, actor):
    from click.testing import CliRunner

    from cli.main import cli
    result = CliRunner().invoke(cli, ["--db", db_url, "--actor", actor, *LEARNER])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "--actor" in result.stderr
    assert len(result.stderr) < 300


def test_a_long_value_click_itself_refuses_is_cut_in_the_error_line(ledger):
    result = ledger("import", "x.csv", "--layout", LONG)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr) < 400
    assert result.stderr.count("\n") == 1


def test_an_error_line_shows_control_characters_escaped(ledger):
    result = ledger("audit", "L\x1b[31m1")
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr
    assert result.stderr.count("\n") == 1
