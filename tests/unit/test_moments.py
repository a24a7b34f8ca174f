"""The moments of the report tables: each bucket's earliest and latest recorded times, read from the
stored ISO text without parsing every event's, equals parsing every one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ledger.reporting.reports import MOMENT_BUCKET, microseconds, moments_by_bucket
from projections.timeline import Entry

BASE = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
zones = st.sampled_from([UTC, UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-3))])
times = st.builds(lambda seconds, micro, zone: (BASE + timedelta(seconds=seconds,
                                                                  microseconds=micro)
                                                ).astimezone(zone).isoformat(),
                  st.integers(-3, 3), st.sampled_from([0, 1, 500_000, 999_999]), zones)
events = st.lists(st.tuples(st.integers(1, 3 * MOMENT_BUCKET), times), max_size=40)


@given(events)
def test_each_buckets_span_runs_from_its_earliest_event_to_its_latest_whatever_their_zone(
    stored: list[tuple[int, str]],
) -> None:
    expected: dict[int, tuple[int, int]] = {}
    for position, text in stored:
        bucket, value = position // MOMENT_BUCKET, microseconds(datetime.fromisoformat(text))
        first, last = expected.get(bucket, (value, value))
        expected[bucket] = (min(first, value), max(last, value))
    entries = [Entry(position, "x", 1, "IdVerified", {"timestamp": text})
               for position, text in stored]
    assert moments_by_bucket(entries) == expected
