"""The ledger's transcoder (the library's JSON transcoder plus business dates) passes the
library's own TranscoderTestCase, and round-trips dates."""

from datetime import date
from unittest import skip

from eventsourcing.persistence import JSONTranscoder, Transcoder
from eventsourcing.tests.persistence import (
    CustomType1AsDict,
    CustomType2AsDict,
    TranscoderTestCase,
)

from ledger.app import register_ledger_transcodings


def ledger_transcoder() -> JSONTranscoder:
    """A JSON transcoder with the transcodings LedgerApp registers."""
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


del TranscoderTestCase
