"""Values that are rules come from TOML data (ledger/policies/ledger.toml), not code."""

import shutil
from datetime import date
from pathlib import Path

import pytest

from aggregates.errors import ConfigurationError, InvalidValue
from aggregates.learner import Context, Learner
from aggregates.reference import REFERENCE, REFERENCE_FILE, load_reference
from ledger.rules.rulesets import load_rulebook
from projections.late_registrations import late_registrations
from tests.unit.history import MemoryLedger

CTX = Context(actor="officer", source="test")


def learner() -> Learner:
    return Learner.record("C1", "L1", {"given_name": "Ann", "family_name": "Lee",
                                       "date_of_birth": date(2000, 1, 1), "gender": 2},
                          None, [], date(2026, 3, 1), CTX)


@pytest.mark.parametrize("document", ["national-insurance-card", "bank-card", "passport",
                                      "driving-licence", "national-id"])
def test_seed_003s_level_1_identity_documents_are_accepted(document: str) -> None:
    it = learner()
    it.verify_id(document, date(2026, 3, 2), CTX)
    assert it.latest("id-verified").values["document"] == document


def test_an_unknown_identity_document_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(InvalidValue, match="national-insurance-card"):
        learner().verify_id("library-card", date(2026, 3, 2), CTX)


def test_the_reference_data_is_read_from_the_ledgers_toml() -> None:
    assert load_reference(REFERENCE_FILE) == REFERENCE
    assert REFERENCE.youngest_age == 14 and REFERENCE.name_max_length == 35
    assert REFERENCE.lrs_outcomes["WSVRC002"] == "confirmed"
    assert REFERENCE.lrs_meanings["WSVRC006"] == "ULN not found"
    assert date(1901, 1, 1) in REFERENCE.placeholder_birth_dates


def test_changed_reference_data_changes_the_values_checked(tmp_path: Path) -> None:
    changed = tmp_path / "ledger.toml"
    changed.write_text(REFERENCE_FILE.read_text().replace("youngest_age = 14",
                                                          "youngest_age = 16"))
    assert load_reference(changed).youngest_age == 16


def test_a_broken_reference_file_is_a_configuration_error(tmp_path: Path) -> None:
    broken = tmp_path / "ledger.toml"
    broken.write_text(REFERENCE_FILE.read_text().replace('outcome = "review"',
                                                         'outcome = "maybe"'))
    with pytest.raises(ConfigurationError, match="lrs_codes"):
        load_reference(broken)


def test_the_at_risk_warning_time_comes_from_the_rule_data(tmp_path: Path) -> None:
    shutil.copy(REFERENCE_FILE, tmp_path / "ledger.toml")
    text = (tmp_path / "ledger.toml").read_text()
    (tmp_path / "ledger.toml").write_text(text.replace("at_risk_working_days = 5",
                                                       "at_risk_working_days = 10"))
    ledger = MemoryLedger()
    ledger.learner().enrol_on("E1", "AIM", date(2026, 4, 1), date(2026, 6, 1))
    on = date(2026, 4, 27)   # 10 working days before the 11 May deadline
    shipped, _ = late_registrations(ledger.timelines(), load_rulebook(), on)
    longer, _ = late_registrations(ledger.timelines(), load_rulebook(tmp_path), on)
    assert load_rulebook().at_risk_working_days == 5
    assert (shipped[0].status, longer[0].status) == ("on-time", "at-risk")


def test_the_learner_records_retention_is_the_centres_policy_in_the_rule_data() -> None:
    book = load_rulebook()
    assert book.retention_years(None) == 3
    assert book.record_retention["learner-record"]["source"] == "centre policy"
    adjustments = book.record_retention["reasonable-adjustments"]
    assert (adjustments["clause"], adjustments["years_after_end"]) == ("AIM 6.1", 3)
