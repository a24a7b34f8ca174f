"""A timeline reads the same on every date from its stable date on, and differs before it."""

from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.timeline import as_on, new_timeline, stable_from

BASE = date(2026, 1, 1)
DAYS = st.integers(0, 60).map(lambda n: BASE + timedelta(days=n))
FACTS = st.lists(st.tuples(
    st.sampled_from(["Recorded", "Enrolled", "RegistrationSubmitted", "Withdrawn"]),
    DAYS, st.none() | DAYS), max_size=6)


def timeline_of(facts: list[tuple[str, date, date | None]]) -> dict[str, Any]:
    timeline = new_timeline("x")
    for position, (event, occurred, notified) in enumerate(facts, start=1):
        values: dict[str, Any] = {}
        if event == "Withdrawn":
            values = {"left_on": occurred.isoformat(),
                      "notified_on": notified and max(notified, occurred).isoformat()}
        timeline["facts"].append({"position": position, "version": position, "event": event,
                                  "occurred_on": occurred.isoformat(), "recorded": "",
                                  "enrolment": "E1", "values": values})
    return timeline


@given(FACTS, DAYS)
def test_a_timeline_is_itself_on_every_date_from_its_stable_date(
    facts: list[tuple[str, date, date | None]], on: date,
) -> None:
    timeline = timeline_of(facts)
    stable = stable_from(timeline)
    if stable is None or on >= stable:
        assert as_on(timeline, on) == timeline
    else:
        assert as_on(timeline, on) != timeline
