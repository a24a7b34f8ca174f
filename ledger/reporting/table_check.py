"""The report tables checked against the events: every timeline folded again and every kept
row judged again, for `ledger verify --reports`.

The timelines and the kept report rows are derived tables. A login that may write them (an
officer's, so that its reports can catch up) could edit them, and a report would then print
what was edited under the digest of the real events; the chain does not cover them. This
check reads each learner's events (up to the timelines' position), folds them as a rebuild
does and compares the result with the stored timeline, column by column; then judges that
timeline as the kept rows were judged and compares every kept row. It writes nothing, so a
read-only login may run it. A learner whose events moved on after the kept rows were judged
is counted as not yet judged (the next report judges it), not as a mismatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, inspect, select, text

from aggregates.errors import LedgerError
from ledger.bulk.progress import NoProgress, Progress
from ledger.reporting.report_rows import (
    CURRENT_TABLES,
    HISTORY_TABLES,
    judged_rows,
    rows_state,
    rulebook_fingerprint,
)
from ledger.reporting.reports import (
    LEARNER_TOPICS,
    MOMENT_BUCKET,
    MOMENTS_TABLE,
    TIMELINES_TABLE,
    ReportsView,
    Span,
    fold,
    merge_moments,
    moments_by_bucket,
    timeline_row,
)
from ledger.reporting.row_versions import learner_entries, versions_of_events
from ledger.storage.raw_rows import originator_column, uuid_text
from projections.policy import PolicyLike

if TYPE_CHECKING:
    from ledger.app import LedgerApp

CHUNK = 500  # learners checked per query
# the kept rows: each learner's current version and its earlier ones (`--as-at`); the dated
# rows (a cache for `--on` months back, dropped at every refresh) are not compared
CHECKED_TABLES = (*CURRENT_TABLES, *HISTORY_TABLES)
SHOWN = 20  # mismatches kept for the message (all are counted)


class ReportTablesDiffer(LedgerError):
    """A report table says something the events do not: edited, or left by a fault."""


@dataclass(frozen=True)
class Mismatch:
    """One learner's stored rows that differ from its events: which table, and who."""

    learner_id: str
    reference: str | None
    table: str


@dataclass
class TableCheck:
    """What the check compared and what differed."""

    built: bool = True  # False: no report has built the tables yet (nothing to compare)
    position: int = 0  # the timelines' position: events up to it were folded
    rows_position: int | None = None  # the kept rows' position (None: never judged)
    timelines: int = 0
    judged: int = 0
    not_yet_judged: int = 0
    other_rulebook: bool = False
    mismatches: int = 0
    shown: list[Mismatch] = field(default_factory=list)
    moments: dict[int, Span] = field(default_factory=dict)  # recomputed from the events

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def note(self, mismatch: Mismatch) -> None:
        self.mismatches += 1
        if len(self.shown) < SHOWN:
            self.shown.append(mismatch)


def check_report_tables(app: LedgerApp, book: PolicyLike,
                        progress: Progress | None = None) -> TableCheck:
    """Fold and judge every learner again and compare with the stored tables (in one read
    transaction, so that a catch-up running meanwhile cannot make it differ)."""
    progress = progress or NoProgress()
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    events = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    with app.engine.connect() as connection, connection.begin():
        _repeatable(connection)
        if not _has_tables(connection, (view.timelines, view.tracking_table, view.moments)):
            return TableCheck(built=False)
        check = TableCheck(position=_tracked(connection, view, app.name))
        state = rows_state(connection) if _has_rows(connection) else None
        if state is not None:
            check.rows_position = state.position
            check.other_rulebook = state.fingerprint != rulebook_fingerprint(book)
        stored_ids = _stored_ids(connection, view.timelines)
        learners = _learners_with_events(connection, events, check.position)
        every = sorted(learners | stored_ids | _kept_ids(connection))
        progress.start("Report tables", len(every))
        done = 0
        for chunk in _chunks(every):
            _check_chunk(app, connection, view.timelines, chunk, learners, book, state,
                         check)
            done += len(chunk)
            progress.update(done, done)
        _compare_moments(connection, view.moments, check)
    return check


def _compare_moments(connection: Connection, moments: Table, check: TableCheck) -> None:
    """The recorded-time span of each bucket of positions (`--as-at` reads them) against the
    spans of the events folded."""
    stored = {int(bucket): (int(first), int(last)) for bucket, first, last in connection.execute(
        select(moments.c.bucket, moments.c.earliest, moments.c.latest))}
    for bucket in sorted(set(stored) | set(check.moments)):
        if stored.get(bucket) != check.moments.get(bucket):
            check.note(Mismatch(f"positions {bucket * MOMENT_BUCKET:,} to "
                                f"{(bucket + 1) * MOMENT_BUCKET - 1:,}", None, MOMENTS_TABLE))


def _repeatable(connection: Connection) -> None:
    """One snapshot for every read (SQLite's read transaction is one already)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


def _tracked(connection: Connection, view: ReportsView, name: str) -> int:
    table = view.tracking_table
    found = connection.execute(select(table.c.notification_id).where(
        table.c.application_name == name).order_by(table.c.notification_id.desc()).limit(1)
    ).scalar()
    return int(found or 0)


def _has_tables(connection: Connection, tables: Iterable[Table]) -> bool:
    inspector = inspect(connection)
    return all(inspector.has_table(table.name) for table in tables)


def _has_rows(connection: Connection) -> bool:
    return _has_tables(connection, CHECKED_TABLES)


def _stored_ids(connection: Connection, timelines: Table) -> set[str]:
    return set(connection.execute(select(timelines.c.learner_id)).scalars())


def _kept_ids(connection: Connection) -> set[str]:
    if not _has_rows(connection):
        return set()
    ids: set[str] = set()
    for table in CHECKED_TABLES:
        ids.update(connection.execute(select(table.c.learner_id).distinct()).scalars())
    return ids


def _learners_with_events(connection: Connection, events: Table, upto: int) -> set[str]:
    """The learners with a learner event at or before the timelines' position."""
    query = (select(originator_column(connection.engine, events.c.originator_id)).distinct()
             .where(events.c.id <= upto, events.c.topic.in_(LEARNER_TOPICS)))
    return {uuid_text(value) for value in connection.execute(query).scalars()}


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _check_chunk(app: LedgerApp, connection: Connection, timelines: Table, ids: list[str],
                 learners: set[str], book: PolicyLike, state: Any, check: TableCheck) -> None:
    """These learners' stored timelines and kept rows against their events."""
    by_learner = {learner: [entry for entry in entries if entry.position <= check.position]
                  for learner, entries in learner_entries(
                      app, [i for i in ids if i in learners], connection)}
    every_entry = [entry for entries in by_learner.values() for entry in entries]
    merge_moments(check.moments, moments_by_bucket(every_entry))
    folded = fold({}, every_entry)  # each learner's events in position order
    stored = {row["learner_id"]: row for row in connection.execute(
        select(timelines).where(timelines.c.learner_id.in_(ids))).mappings()}
    kept = _kept_rows(connection, ids) if state is not None else {}
    for learner in ids:
        timeline = folded.get(learner)
        expected = None if timeline is None else timeline_row(timeline)
        reference = _reference(learner, timeline, stored, kept)
        if (None if learner not in stored else dict(stored[learner])) != expected:
            check.note(Mismatch(learner, reference, TIMELINES_TABLE))
            continue
        check.timelines += timeline is not None
        if state is None or check.other_rulebook:
            continue
        if timeline is not None and timeline["position"] > state.position:
            check.not_yet_judged += 1
            continue
        _compare_rows(learner, reference, by_learner.get(learner, []), book, kept, check)


def _reference(learner: str, timeline: Any, stored: dict[str, Any],
               kept: dict[str, dict[str, list[dict[str, Any]]]]) -> str | None:
    """The learner's reference as the events give it, else as a stored table claims it."""
    if timeline is not None and timeline["reference"] is not None:
        return str(timeline["reference"])
    if learner in stored:
        return stored[learner]["reference"]
    claimed = kept.get(learner, {}).get(CURRENT_TABLES[0].name)
    return claimed[0]["reference"] if claimed else None


def _compare_rows(learner: str, reference: str | None, entries: list[Any], book: PolicyLike,
                  kept: dict[str, dict[str, list[dict[str, Any]]]], check: TableCheck) -> None:
    """The learner's kept rows, current and past, against each version of its events
    judged again (as `report_rows` writes them)."""
    expected = _expected_rows(learner, entries, book)
    mine = kept.get(learner, {})
    for table in CHECKED_TABLES:
        if mine.get(table.name, []) != expected[table.name]:
            check.note(Mismatch(learner, reference, table.name))
            return
    check.judged += bool(expected[CURRENT_TABLES[0].name])


def _expected_rows(learner: str, entries: list[Any], book: PolicyLike,
                   ) -> dict[str, list[dict[str, Any]]]:
    """Each table's rows for the learner's versions: the last in the current tables, the
    earlier ones in the history, until the next version's moment."""
    expected: dict[str, list[dict[str, Any]]] = {table.name: [] for table in CHECKED_TABLES}
    versions = versions_of_events(learner, entries) if entries else []
    for index, (moment, timeline) in enumerate(versions):
        if timeline["centre"] is None:
            continue
        last = index == len(versions) - 1
        stamp = {"recorded_from": moment}
        if not last:
            stamp["recorded_to"] = versions[index + 1][0]
        learner_row, registrations, findings = judged_rows(timeline, book)
        tables = CURRENT_TABLES if last else HISTORY_TABLES
        for table, rows in zip(tables, ([learner_row], registrations, findings), strict=True):
            expected[table.name].extend({**row, **stamp} for row in rows)
    for table in HISTORY_TABLES:  # read back in (recorded_from, seq) order
        expected[table.name].sort(key=lambda row: (row["recorded_from"], row.get("seq", 0)))
    return expected


def _kept_rows(connection: Connection, ids: list[str]) -> dict[str, dict[str, list[dict]]]:
    """The kept rows of these learners, by learner and table, each table's in `seq` order."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for table in CHECKED_TABLES:
        order = [table.c.learner_id]
        if "recorded_to" in table.c:
            order.append(table.c.recorded_from)
        if "seq" in table.c:
            order.append(table.c.seq)
        query = select(table).where(table.c.learner_id.in_(ids)).order_by(*order)
        for row in connection.execute(query).mappings():
            found.setdefault(row["learner_id"], {}).setdefault(table.name, []).append(
                dict(row))
    return found
