"""The reports' view stands in for the library's tracking recorder: it passes its test case."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.tests.persistence import TrackingRecorderTestCase
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore

from ledger.reporting.reports import ReportsView
from tests.conftest import fresh_postgres_url


class ReportsViewOnSQLite(TrackingRecorderTestCase):
    """TrackingRecorderTestCase on an SQLite file."""

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'view.db'}"

    def create_recorder(self) -> ReportsView:
        view = ReportsView(SQLAlchemyDatastore(url=self.url))
        view.create_table()
        return view


@pytest.mark.postgres
class ReportsViewOnPostgreSQL(TrackingRecorderTestCase):
    """TrackingRecorderTestCase on PostgreSQL."""

    def setUp(self) -> None:
        self.url = fresh_postgres_url()

    def create_recorder(self) -> ReportsView:
        view = ReportsView(SQLAlchemyDatastore(url=self.url))
        view.create_table()
        return view


del TrackingRecorderTestCase


@pytest.mark.postgres
def test_a_new_reports_table_on_postgresql_compresses_timelines_with_lz4_when_it_can() -> None:
    from sqlalchemy import text

    from ledger.reporting.reports import HAS_LZ4

    view = ReportsView(SQLAlchemyDatastore(url=fresh_postgres_url()))
    view.create_table()
    view.create_table()  # again: the table is there, nothing is altered
    with view.datastore.engine.connect() as connection:  # type: ignore[union-attr]
        has_lz4 = connection.exec_driver_sql(HAS_LZ4).first() is not None
        compression = connection.execute(text(
            "SELECT attcompression FROM pg_attribute WHERE attname = 'timeline' AND "
            "attrelid = 'ledger_report_timelines'::regclass")).scalar_one()
    assert compression == ("l" if has_lz4 else "")
