"""Rule sets as TOML data: shipped sets, versions by effective date, broken files named."""

from datetime import date
from pathlib import Path

import pytest

from ledger.rules.rulesets import RuleSetError, load_rule_file, load_rulebook

GOOD = """\
awarding_body = "OTHM"
[[versions]]
version = "2025"
effective_from = 2025-01-01
source = "OTHM registration guidance"
[versions.rules.late-registration]
clause = "2.1"
days = 28
unit = "calendar"

[[versions]]
version = "2026"
effective_from = 2026-06-01
source = "OTHM registration guidance, revised"
[versions.rules.late-registration]
clause = "2.1"
days = 21
unit = "calendar"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_the_shipped_rule_sets_load_with_the_seed_parameters() -> None:
    book = load_rulebook()
    imi = book.rules_in_force("IMI", date(2025, 9, 1))
    aim = book.rules_in_force("AIM", date(2026, 4, 1))
    assert imi is not None and aim is not None
    assert imi["late-registration"].params["days"] == 90
    assert imi["late-registration"].params["unit"] == "calendar"
    assert aim["late-registration"].params == {
        "days": 25, "unit": "working", "long_days": 60, "long_unit": "working",
        "short_max_weeks": 15}
    assert aim["withdrawal-notification"].params == {"days": 30, "unit": "calendar"}
    assert aim["claim-deadline"].params == {"days": 10, "unit": "working"}
    assert aim["certificate-issue"].params == {"days": 5, "unit": "working"}
    assert aim["late-registration"].clause == "3.2"


def test_no_rule_set_is_in_force_before_the_first_effective_date() -> None:
    assert load_rulebook().in_force("AIM", date(2026, 3, 23)) is None
    assert load_rulebook().in_force("AIM", date(2026, 3, 24)) is not None


def test_the_version_in_force_on_the_programme_start_date_applies(tmp_path: Path) -> None:
    write(tmp_path, "othm.toml", GOOD)
    book = load_rulebook(tmp_path)
    before = book.in_force("OTHM", date(2026, 5, 31))
    after = book.in_force("OTHM", date(2026, 6, 1))
    assert before is not None and before.version == "2025"
    assert after is not None and after.version == "2026"
    assert after.rules["late-registration"].params["days"] == 21


def test_a_centres_directory_replaces_a_shipped_awarding_body(tmp_path: Path) -> None:
    write(tmp_path, "imi.toml", GOOD.replace("OTHM", "IMI"))
    rules = load_rulebook(tmp_path).rules_in_force("IMI", date(2026, 7, 1))
    assert rules is not None and rules["late-registration"].params["days"] == 21


def test_the_policies_directory_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path, "othm.toml", GOOD)
    monkeypatch.setenv("LEDGER_POLICIES", str(tmp_path))
    assert "OTHM" in load_rulebook().awarding_bodies


@pytest.mark.parametrize(("broken", "key", "message"), [
    (GOOD.replace("days = 28", "days = -3"), "versions[0].rules.late-registration.days",
     "must be a positive whole number"),
    (GOOD.replace('unit = "calendar"\n\n', 'unit = "lunar"\n\n'),
     "versions[0].rules.late-registration.unit", "must be one of calendar, working"),
    (GOOD.replace('clause = "2.1"\ndays = 28', "days = 28"),
     "versions[0].rules.late-registration.clause", "is missing"),
    (GOOD.replace("effective_from = 2025-01-01", 'effective_from = "soon"'),
     "versions[0].effective_from", "must be a date"),
    (GOOD.replace("[versions.rules.late-registration]\nclause = \"2.1\"\ndays = 28",
                  "[versions.rules.late-registrations]\nclause = \"2.1\"\ndays = 28"),
     "versions[0].rules.late-registrations", "unknown rule"),
    (GOOD.replace("days = 28", "days = 28\ngrace = 2"),
     "versions[0].rules.late-registration.grace", "is not a parameter of this rule"),
    (GOOD.replace('awarding_body = "OTHM"', ""), "awarding_body", "is missing"),
    (GOOD.replace("effective_from = 2026-06-01", "effective_from = 2025-01-01"),
     "versions", "two versions take effect on 2025-01-01"),
    (GOOD + "[retention]\nyears_after_end = -1\n", "retention.years_after_end",
     "must not be negative"),
    (GOOD + '[retention]\nyears_after_end = "six"\n', "retention.years_after_end",
     "must be a int"),
    (GOOD + "[retention]\nyears = 6\n", "retention", "must be a table with years_after_end"),
])
def test_a_broken_rule_file_names_the_file_and_the_key(
    tmp_path: Path, broken: str, key: str, message: str,
) -> None:
    path = write(tmp_path, "othm.toml", broken)
    with pytest.raises(RuleSetError) as raised:
        load_rulebook(tmp_path)
    assert str(raised.value).startswith(f"rule set {path}: {key}: {message}")
    assert raised.value.key == key


def test_retention_years_come_from_the_rule_set_or_default_to_three(tmp_path: Path) -> None:
    write(tmp_path, "othm.toml", GOOD + "[retention]\nyears_after_end = 6\n")
    book = load_rulebook(tmp_path)
    assert book.retention_years("OTHM") == 6
    assert book.retention_years("IMI") == 3
    assert book.retention_years(None) == 3


def test_a_file_that_is_not_toml_is_named_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", "awarding_body = \n")
    with pytest.raises(RuleSetError, match=rf"rule set {path}: not valid TOML \(.*line 1"):
        load_rule_file(path)


def test_a_long_course_needs_both_its_days_and_the_week_boundary(tmp_path: Path) -> None:
    path = write(tmp_path, "othm.toml", GOOD.replace("days = 28", "days = 28\nlong_days = 6"))
    with pytest.raises(RuleSetError, match=r"late-registration\.short_max_weeks: is needed"):
        load_rule_file(path)


def test_centres_file_sets_each_centres_nation_and_closures(tmp_path: Path) -> None:
    write(tmp_path, "centres.toml", '[centres."C9"]\nnation = "Scotland"\n'
                                    'closures = [2026-04-06]\n')
    book = load_rulebook(tmp_path)
    assert book.calendar_for("C9").nation == "Scotland"
    assert not book.calendar_for("C9").is_working_day(date(2026, 4, 6))
    assert book.calendar_for("C1").nation == "England"


def test_a_centre_with_an_unknown_nation_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "centres.toml", '[centres."C9"]\nnation = "Mercia"\n')
    with pytest.raises(RuleSetError, match=rf"rule set {path}: centres.C9.nation: nation"):
        load_rulebook(tmp_path)


def test_the_default_nation_comes_from_ledger_nation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_NATION", "Wales")
    assert load_rulebook().calendar_for("C1").nation == "Wales"


def test_rules_are_cited_as_an_assessor_cites_them() -> None:
    from datetime import date as day

    from ledger.rules.rulesets import load_rulebook
    book = load_rulebook(None)
    imi = book.rules_in_force("IMI", day(2026, 1, 1))
    aim = book.rules_in_force("AIM", day(2026, 9, 1))
    assert imi["late-registration"].reference == (
        "IMI registration guidance (issue 10), introduction")
    assert aim["withdrawal-notification"].reference == (
        "AIM registration and certification policy (v1.0), clause 4.2")


def test_a_rule_set_without_display_text_is_cited_by_code_version_and_clause(
        tmp_path) -> None:
    from datetime import date as day

    from ledger.rules.rulesets import load_rulebook
    (tmp_path / "othm.toml").write_text(
        'awarding_body = "OTHM"\n[[versions]]\nversion = "2025"\n'
        'effective_from = 2025-01-01\nsource = "OTHM guidance"\n'
        '[versions.rules.late-registration]\nclause = "2.1"\ndays = 28\nunit = "calendar"\n')
    rules = load_rulebook(str(tmp_path)).rules_in_force("OTHM", day(2026, 1, 1))
    assert rules["late-registration"].reference == "OTHM 2025, clause 2.1"
