"""The late-registration rows judged in Python are merged into the kept ones as heapq would."""

from __future__ import annotations

import heapq
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.reporting.report_queries import merged_in, record_deadline_order

RECORDS = st.tuples(st.sampled_from(["C1", "C2"]), st.sampled_from(["AIM", "IMI"]),
                    st.integers(0, 3), st.sampled_from(["L1", "L2"]), st.sampled_from(["E1"]),
                    st.integers(0, 5))  # the last: which row, to tell equal keys apart


@given(st.lists(RECORDS), st.lists(RECORDS))
def test_the_merge_is_heapqs(kept: list[tuple[Any, ...]], few: list[tuple[Any, ...]]) -> None:
    kept.sort(key=record_deadline_order)
    few.sort(key=record_deadline_order)
    assert list(merged_in(iter(kept), few)) == list(
        heapq.merge(kept, few, key=record_deadline_order))
