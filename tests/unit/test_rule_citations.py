"""Every shipped rule cites its clause and quotes the seed words that support it."""

import re
from datetime import date
from pathlib import Path

import pytest

from ledger.rules.rulesets import RULE_SOURCES, Rule, load_rulebook

SEEDS = Path(__file__).parents[2] / "docs" / "seeds"
EXCERPT_SEPARATOR = " … "


def normalised(text: str) -> str:
    """Spaces collapsed, markdown emphasis and backslash escapes dropped, quotes straightened."""
    text = text.replace("\\", "").replace("*", "").replace("’", "'")
    return " ".join(text.split())


def seed_text(seed: str) -> str:
    (path,) = SEEDS.glob(f"{seed}_*.txt")
    return normalised(path.read_text(encoding="utf-8"))


def shipped_rules() -> list[Rule]:
    book = load_rulebook()
    rules = [rule for versions in book.versions.values() for version in versions
             for rule in version.rules.values()]
    return rules + list(book.common.values())


@pytest.mark.parametrize("rule", shipped_rules(), ids=lambda r: f"{r.awarding_body}-{r.id}")
def test_each_shipped_rule_quotes_words_that_occur_in_its_seed(rule: Rule) -> None:
    if rule.basis == "ledger consistency rule":
        assert not rule.seed  # the ledger's own rule: no awarding-body document to quote
        return
    assert rule.quote, f"{rule.awarding_body} {rule.id} has no quote"
    if rule.awarding_body == "GATEWAY":
        return  # from its public guidance, not among the seeds
    assert rule.seed, f"{rule.awarding_body} {rule.id} names no seed"
    text = seed_text(rule.seed)
    for excerpt in rule.quote.split(EXCERPT_SEPARATOR):
        assert normalised(excerpt) in text, (rule.id, excerpt)


def test_aim_persistent_late_registration_is_the_centres_own_escalation_policy() -> None:
    rule = load_rulebook().rules_in_force("AIM", date(2026, 4, 1))
    assert rule is not None
    persistent = rule["persistent-late-registration"]
    assert persistent.basis == "centre policy"
    assert persistent.reference.startswith("centre policy: ")
    assert "maladministration" not in persistent.quote


def test_aim_data_quality_asks_only_for_a_real_birth_date_not_imis_name_rules() -> None:
    rules = load_rulebook().rules_in_force("AIM", date(2026, 4, 1))
    assert rules is not None
    assert rules["data-quality"].params["codes"] == ["dob-placeholder", "age-implausible"]
    assert rules["data-quality"].clause == "3.1"


def test_aim_reverification_of_a_changed_lrs_field_is_cited_as_centre_policy() -> None:
    rules = load_rulebook().rules_in_force("AIM", date(2026, 4, 1))
    assert rules is not None
    assert rules["lrs-reverification"].basis == "centre policy"
    assert rules["lrs-reverification"].clause != "3.1"


def test_a_rule_source_must_be_a_known_kind(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        'awarding_body = "XO"\n[[versions]]\nversion = "1"\neffective_from = 2026-01-01\n'
        'source = "x"\n[versions.rules.claim-eligibility]\nclause = "1"\nsource = "my whim"\n')
    with pytest.raises(Exception, match=re.escape("source: must be one of")):
        load_rulebook(tmp_path)
    assert set(RULE_SOURCES) == {"centre policy", "ledger consistency rule"}


def test_each_retention_period_quoting_a_seed_quotes_it_exactly() -> None:
    kinds = load_rulebook().record_retention
    quoted = [spec for spec in kinds.values() if spec.get("seed")]
    assert quoted, "the seed's 3 years for reasonable adjustments is cited"
    for spec in quoted:
        assert normalised(spec["quote"]) in seed_text(spec["seed"])
