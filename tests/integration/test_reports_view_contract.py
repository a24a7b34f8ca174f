"""The reports' view stands in for the library's tracking recorder: it passes its test case."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.tests.persistence import TrackingRecorderTestCase
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore

from ledger.reports import ReportsView
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
