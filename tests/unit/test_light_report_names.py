"""The light report path names the tables, topics and URL parts the heavy modules define."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.reporting import report_queries as light
from ledger.reporting import report_rows, reports
from ledger.storage import persistence
from ledger.storage.dbapi import plain_url, postgres_arguments


def test_the_light_path_reads_the_tables_the_application_writes() -> None:
    assert report_rows.learners_table.name == light.LEARNERS
    assert report_rows.registrations_table.name == light.REGISTRATIONS
    assert report_rows.findings_table.name == light.FINDINGS
    assert report_rows.state_table.name == light.ROWS_STATE
    assert light.ROWS_STATE_NAME == report_rows.STATE_NAME
    assert light.TIMELINES == reports.TIMELINES_TABLE
    assert light.TRACKING == reports.TRACKING_TABLE
    assert light.EVENTS == persistence.EVENTS_TABLE
    assert light.EVENT_HASHES == persistence.EVENT_HASHES_TABLE
    assert light.learner_topics() == reports.LEARNER_TOPICS
    assert light.EVIDENCE_DIGITS == report_rows.EVIDENCE_DIGITS


def test_a_kept_registration_record_has_the_columns_the_table_keeps() -> None:
    columns = set(report_rows.registrations_table.c.keys())
    assert set(light.RECORD_COLUMNS) - {"status", "days_late"} <= columns


@pytest.mark.parametrize("given", ["sqlite:///{folder}/ledger.db", "{folder}/ledger.db",
                                   "postgres://u@h/db", "postgresql://u:p@h:5433/db"])
def test_plain_urls_are_those_of_the_application(given: str, tmp_path: Path) -> None:
    given = given.format(folder=tmp_path)
    assert plain_url(given) == persistence.database_url(given)


def test_postgres_arguments_keep_the_search_path_option() -> None:
    url = "postgresql+psycopg2://postgres:s%40cret@127.0.0.1:5432/test?options=-csearch_path%3Dx"
    assert postgres_arguments(url) == {"host": "127.0.0.1", "port": 5432, "user": "postgres",
                                       "password": "s@cret", "dbname": "test",
                                       "options": "-csearch_path=x"}


def test_without_a_url_both_open_the_default_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_DB", raising=False)
    assert plain_url(None) == persistence.database_url(None) == persistence.DEFAULT_DB_URL
