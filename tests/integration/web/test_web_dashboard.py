"""The dashboard's counts (`shaping.dashboard`), checked against counting row by row: each
awarding body and centre's statuses and severities, whatever the rows (hypothesis); and a
judgement's rows and findings made to share their equal values (`sources.Shared`) still
equal to what was read."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from ledger.web.shaping import Judged, dashboard
from ledger.web.sources import FINDING_SHARED, ROW_SHARED, Shared
from projections.late_registrations import STATUSES, RegistrationRow, Unjudged
from projections.maladministration import Finding

BODIES, CENTRES = ("IMI", "CITY"), ("10001", "10002", "")
SEVERITIES = ("low", "medium", "high")

rows = st.builds(
    lambda body, centre, status, day, learner: RegistrationRow(
        learner, "E1", body, date(2026, 1, 1), date(2026, 1, day), None, status, 0, "r",
        centre, "1", "c", [day]),
    st.sampled_from(BODIES), st.sampled_from(CENTRES), st.sampled_from(STATUSES),
    st.integers(1, 28), st.sampled_from(("L1", "L2")))
unjudged = st.builds(lambda body, centre: Unjudged("L2", "E2", body, date(2026, 1, 1),
                                                   centre=centre),
                     st.sampled_from(BODIES), st.sampled_from(CENTRES))
findings = st.builds(
    lambda body, centre, severity, day: Finding(
        "r", body, "1", "c", severity, centre, "L1", "E1",
        {"deadline": date(2026, 2, day), "submitted": None}, [1], "m"),
    st.sampled_from(BODIES), st.sampled_from(CENTRES), st.sampled_from(SEVERITIES),
    st.integers(1, 3))


@given(st.lists(rows), st.lists(unjudged), st.lists(findings))
def test_each_group_counts_its_own_rows_and_findings(
        registered: list[RegistrationRow], left: list[Unjudged], found: list[Finding]) -> None:
    judged = Judged(registered, left, found, "digest", 1, date(2026, 3, 1), None)
    shown = dashboard(judged)
    keys = [(g["awarding_body"], g["centre"]) for g in shown["groups"]]
    assert keys == sorted(set(keys))
    assert set(keys) == ({(r.awarding_body, r.centre) for r in registered}
                         | {(u.awarding_body, u.centre) for u in left}
                         | {(f.awarding_body, f.centre) for f in found})
    for group in shown["groups"]:
        here = (group["awarding_body"], group["centre"])
        expected = Counter(r.status for r in registered if (r.awarding_body, r.centre) == here)
        expected.update("not judged" for u in left if (u.awarding_body, u.centre) == here)
        assert +group["statuses"] == expected
        assert +group["severities"] == Counter(
            f.severity for f in found if (f.awarding_body, f.centre) == here)
    assert shown["statuses"] == Counter(r.status for r in registered)
    assert shown["late"] == Counter(r.deadline.strftime("%Y-%m") for r in registered
                                    if r.status == "late")


def rebuilt(item: object) -> object:
    """The same row with every field a fresh object, as each row read from the database is."""
    fresh = copy.deepcopy(item)
    for name in (*ROW_SHARED, *FINDING_SHARED, "dates"):
        value = getattr(fresh, name, None)
        if isinstance(value, str):
            object.__setattr__(fresh, name, "".join(list(value)))
        elif isinstance(value, date):
            object.__setattr__(fresh, name, date.fromordinal(value.toordinal()))
    return fresh


@given(st.lists(rows), st.lists(findings))
def test_shared_rows_and_findings_equal_what_was_read_and_share_equal_values(
        registered: list[RegistrationRow], found: list[Finding]) -> None:
    shared = Shared()
    read_rows = [rebuilt(row) for row in registered]
    read_findings = [rebuilt(item) for item in found]
    rows_now = [shared.row(row) for row in copy.deepcopy(read_rows)]
    findings_now = [shared.finding(item) for item in copy.deepcopy(read_findings)]
    assert rows_now == read_rows and findings_now == read_findings
    assert [f.dates for f in findings_now] == [f.dates for f in read_findings]
    for name in ROW_SHARED:
        assert len({id(getattr(r, name)) for r in rows_now}) == len(
            {getattr(r, name) for r in rows_now})
    for name in FINDING_SHARED:
        assert len({id(getattr(f, name)) for f in findings_now}) == len(
            {getattr(f, name) for f in findings_now})
    assert len({id(f.dates) for f in findings_now}) == len(
        {tuple(f.dates.items()) for f in findings_now})
