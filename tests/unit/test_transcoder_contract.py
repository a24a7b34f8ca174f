"""The ledger's transcoder (the library's JSON format plus business dates) passes the
library's own TranscoderTestCase, gives the library's JSON transcoder's bytes, and round-trips
dates."""

import uuid
from datetime import UTC, date, datetime
from unittest import skip

from eventsourcing.persistence import JSONTranscoder, Transcoder
from eventsourcing.tests.persistence import (
    CustomType1AsDict,
    CustomType2AsDict,
    TranscoderTestCase,
)
from hypothesis import given
from hypothesis import strategies as st

from ledger.storage.transcoding import (
    LedgerTranscoder,
    _orjson_writes_alike,
    register_ledger_transcodings,
)


def ledger_transcoder() -> JSONTranscoder:
    """The transcoder LedgerApp uses."""
    return LedgerTranscoder()


def library_transcoder() -> JSONTranscoder:
    """The library's own JSON transcoder with the same transcodings."""
    transcoder = JSONTranscoder()
    register_ledger_transcodings(transcoder)
    return transcoder


class TestLedgerTranscoder(TranscoderTestCase):
    """The library's contract, with the test types it registers and the skips it makes for
    its own JSONTranscoder (JSON has no tuples and no subclasses of built-in types)."""

    def construct_transcoder(self) -> Transcoder:
        transcoder = ledger_transcoder()
        transcoder.register(CustomType1AsDict())
        transcoder.register(CustomType2AsDict())
        return transcoder

    @skip("JSONTranscoder converts tuples to lists")
    def test_tuple(self) -> None: ...

    @skip("JSONTranscoder converts tuples to lists")
    def test_mixed(self) -> None: ...

    @skip("JSONTranscoder converts dict subclasses to dict")
    def test_dict_subclass(self) -> None: ...

    @skip("JSONTranscoder converts list subclasses to list")
    def test_list_subclass(self) -> None: ...

    @skip("JSONTranscoder converts str subclasses to str")
    def test_str_subclass(self) -> None: ...

    @skip("JSONTranscoder converts int subclasses to int")
    def test_int_subclass(self) -> None: ...


def test_business_dates_round_trip_as_dates_not_strings():
    transcoder = ledger_transcoder()
    value = {"programme_start": date(2026, 9, 1), "units": [date(2026, 1, 2)]}
    assert transcoder.decode(transcoder.encode(value)) == value


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates()
    | st.datetimes(timezones=st.just(UTC)) | st.uuids() | st.decimals(allow_nan=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@given(VALUES)
def test_the_ledgers_transcoder_gives_the_librarys_bytes(value: object) -> None:
    assert ledger_transcoder().encode(value) == library_transcoder().encode(value)


TEXT = st.text(st.characters(codec=None, exclude_categories=()))  # control characters too
STATES = st.dictionaries(TEXT, st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT | st.dates()
    | st.datetimes(timezones=st.just(UTC)) | st.decimals(allow_nan=False)
    | st.floats() | st.uuids(),
    lambda children: st.lists(children) | st.tuples(children, children)
    | st.dictionaries(TEXT, children),
    max_leaves=10,
), max_size=8)


@given(STATES)
def test_an_event_state_gets_the_librarys_bytes_whichever_encoder_writes_it(state):
    """orjson writes the states it can write alike; the others (UUIDs, floats, text that is
    not UTF-8, integers beyond 64 bits) go the library's way, and fail as they did there."""
    try:
        expected: bytes | type = library_transcoder().encode(state)
    except (UnicodeEncodeError, ValueError) as error:
        expected = type(error)
    try:
        got: bytes | type = ledger_transcoder().encode(state)
    except (UnicodeEncodeError, ValueError) as error:
        got = type(error)
    assert got == expected


def test_a_plain_event_state_is_written_by_orjson_and_one_holding_a_uuid_is_not():
    plain = {"timestamp": datetime(2026, 12, 1, 9, 30, tzinfo=UTC), "enrolment": "E1-1",
             "units": ["LV05"], "occurred_on": date(2026, 7, 24), "warnings": [{"c": "x"}],
             "apprenticeship": False, "note": None}
    assert _orjson_writes_alike(plain)
    assert not _orjson_writes_alike({**plain, "warnings": [{"of": uuid.uuid4()}]})
    assert not _orjson_writes_alike({**plain, "score": 1.5})
    assert not _orjson_writes_alike({1: "a key that is not text"})


@given(st.lists(VALUES, max_size=8), st.lists(st.dates(), min_size=1, max_size=3))
def test_one_transcoder_gives_the_librarys_bytes_value_after_value(
    values: list[object], dates: list[date],
) -> None:
    """The dates and the recorded time it keeps from one value never leak into the next."""
    transcoder, library = ledger_transcoder(), library_transcoder()
    shared = datetime(2026, 11, 23, 16, 5, 7, 123456, tzinfo=UTC)
    for value in [*values, {"t": shared, "d": dates}, {"d": dates, "t": shared}]:
        assert transcoder.encode(value) == library.encode(value)
        assert transcoder.encode([value, shared, *dates]) == library.encode([value, shared,
                                                                             *dates])


def test_a_transcoder_keeps_a_bounded_number_of_dates(monkeypatch):
    monkeypatch.setattr("ledger.storage.transcoding.DATES_KEPT", 3)
    transcoder = ledger_transcoder()
    days = [date(2026, 1, day) for day in range(1, 8)]
    assert transcoder.decode(transcoder.encode(days)) == days
    assert len(transcoder._dates) <= 3


def test_events_sharing_a_recorded_time_encode_it_each_time():
    transcoder = ledger_transcoder()
    recorded = datetime(2026, 11, 23, 16, 5, 7, 123456, tzinfo=UTC)
    later = datetime(2026, 11, 23, 16, 5, 8, tzinfo=UTC)
    assert [transcoder.decode(transcoder.encode({"t": t}))["t"]
            for t in (recorded, recorded, later, recorded)] == [recorded, recorded, later,
                                                                 recorded]


del TranscoderTestCase
