"""The chained recorder stands in for the library's: it passes the library's own contract tests.

Each library test case runs on an SQLite file and on PostgreSQL (a fresh schema per test), and
after every test the hash chain the test left behind must verify.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyProcessRecorder,
    SQLAlchemyTrackingRecorder,
)

from ledger.integrity.chained_recorder import ChainedApplicationRecorder, Factory
from ledger.integrity.verify import verify_chain
from tests.conftest import fresh_postgres_url


class _Backend:
    """Set-up and tear-down of an empty database per test, on one backend."""

    backend: ClassVar[str] = "sqlite"

    def database_url(self) -> str:
        if self.backend == "postgres":
            return fresh_postgres_url()
        self._folder = tempfile.TemporaryDirectory()
        return f"sqlite:///{os.path.join(self._folder.name, 'ledger.db')}"

    def setUp(self) -> None:
        self.datastore = SQLAlchemyDatastore(url=self.database_url())
        self.recorders: list[ChainedApplicationRecorder] = []

    def create_recorder(self) -> ChainedApplicationRecorder:
        recorder = ChainedApplicationRecorder(self.datastore, events_table_name="stored_events")
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder

    def tearDown(self) -> None:
        try:
            for recorder in self.recorders[:1]:
                result = verify_chain(recorder)
                assert result.ok, result.problem
        finally:
            assert self.datastore.engine is not None
            self.datastore.engine.dispose()
            if hasattr(self, "_folder"):
                self._folder.cleanup()


class _ChainedApplicationRecorder(_Backend, ApplicationRecorderTestCase[Any]):
    pass


class _ChainedNonInterleaving(_Backend, NonInterleavingNotificationIDsBaseCase):
    insert_num = 200


class TestChainedApplicationRecorderOnSQLite(_ChainedApplicationRecorder):
    pass


class TestChainedNonInterleavingOnSQLite(_ChainedNonInterleaving):
    pass


@pytest.mark.postgres
class TestChainedApplicationRecorderOnPostgres(_ChainedApplicationRecorder):
    backend = "postgres"


@pytest.mark.postgres
class TestChainedNonInterleavingOnPostgres(_ChainedNonInterleaving):
    backend = "postgres"


class CustomTrackingRecorder(SQLAlchemyTrackingRecorder):
    """A tracking recorder subclass, as the factory test case asks for."""


class _ChainedFactory(InfrastructureFactoryTestCase[Factory]):
    backend: ClassVar[str] = "sqlite"

    def setUp(self) -> None:
        if self.backend == "postgres":
            url = fresh_postgres_url()
        else:
            self._folder = tempfile.TemporaryDirectory()
            url = f"sqlite:///{os.path.join(self._folder.name, 'ledger.db')}"
        self.env = Environment("TestCase", {
            "PERSISTENCE_MODULE": "ledger.integrity.chained_recorder", "SQLALCHEMY_URL": url,
        })
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        if self.factory.datastore.engine is not None:
            self.factory.datastore.engine.dispose()
        if hasattr(self, "_folder"):
            self._folder.cleanup()

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLAlchemyAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return ChainedApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLAlchemyTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLAlchemyProcessRecorder


class TestChainedFactoryOnSQLite(_ChainedFactory):
    pass


@pytest.mark.postgres
class TestChainedFactoryOnPostgres(_ChainedFactory):
    backend = "postgres"


# Only the concrete classes above are test classes: hide the abstract ones from collection.
del ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase
del InfrastructureFactoryTestCase
del _ChainedApplicationRecorder, _ChainedNonInterleaving, _ChainedFactory
