"""The ledger's transcoder (the library's JSON format plus business dates) passes the
library's own TranscoderTestCase, gives the library's JSON transcoder's bytes, and round-trips
dates."""

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

from ledger.transcoding import LedgerTranscoder, register_ledger_transcodings


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


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates()
    | st.datetimes(timezones=st.just(UTC)) | st.uuids() | st.decimals(allow_nan=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=12,
))
def test_the_ledgers_transcoder_gives_the_librarys_bytes(value: object) -> None:
    assert ledger_transcoder().encode(value) == library_transcoder().encode(value)


def test_events_sharing_a_recorded_time_encode_it_each_time():
    transcoder = ledger_transcoder()
    recorded = datetime(2026, 11, 23, 16, 5, 7, 123456, tzinfo=UTC)
    later = datetime(2026, 11, 23, 16, 5, 8, tzinfo=UTC)
    assert [transcoder.decode(transcoder.encode({"t": t}))["t"]
            for t in (recorded, recorded, later, recorded)] == [recorded, recorded, later,
                                                                 recorded]


del TranscoderTestCase
