"""Amendments run the same value checks as `learner add`: a finding closes only when fixed."""

from datetime import date

from aggregates.learner import Context
from ledger.reporting.reports import current_timelines
from ledger.rules.rulesets import load_rulebook
from projections.maladministration import maladministration

CTX = Context(actor="officer", source="test")
ON = date(2026, 11, 1)


def recorded_smith(app, family_name="SMITH", dob="2000-01-01"):
    app.add_learner(CTX, "C1", "L1", given_name="John", family_name=family_name,
                    date_of_birth=dob, gender="1")
    app.enrol(CTX, "L1", "E1", awarding_body="IMI", qualification="603/1234/5",
              title="Diploma", start="2026-09-01", planned_end="2027-07-01")


def quality_codes(app):
    timelines, _ = current_timelines(app)
    return sorted((f.extra.get("code") or f.message.split(":")[0], f.evidence[-1])
                  for f in maladministration(timelines, load_rulebook(), ON)
                  if f.rule == "data-quality")


def test_amending_a_capitals_name_to_another_capitals_name_keeps_the_finding(make_app):
    app = make_app()
    recorded_smith(app)
    amended = app.amend(CTX, "L1", {"family_name": "JONES"}, "typo", on="2026-09-02")
    assert [w["code"] for w in amended.warnings] == ["name-capitals"]
    assert quality_codes(app) == [("name-capitals", amended[0])]


def test_amending_the_birth_date_to_a_placeholder_raises_a_finding(make_app):
    app = make_app()
    recorded_smith(app, family_name="Smith")
    assert quality_codes(app) == []
    amended = app.amend(CTX, "L1", {"date_of_birth": "01/01/1901"}, "from the form",
                        on="2026-09-02")
    codes = [code for code, _ in quality_codes(app)]
    assert codes == ["age-implausible", "dob-placeholder"]
    assert {position for _, position in quality_codes(app)} == {amended[0]}


def test_amending_to_a_value_that_passes_the_check_closes_the_finding(make_app):
    app = make_app()
    recorded_smith(app)
    assert [code for code, _ in quality_codes(app)] == ["name-capitals"]
    app.amend(CTX, "L1", {"family_name": "Jones"}, "capitals", on="2026-09-02")
    assert quality_codes(app) == []


def test_an_amendment_event_keeps_its_warnings_after_a_replay_from_the_database(make_app):
    app = make_app()
    recorded_smith(app)
    app.amend(CTX, "L1", {"family_name": "JONES"}, "typo", on="2026-09-02")
    learner = make_app().find_learner("L1")
    amended = learner.latest("amended")
    assert amended is not None and amended.values["new"] == "JONES"
