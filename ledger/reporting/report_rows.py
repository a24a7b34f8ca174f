"""Kept report rows: each learner's registrations and findings, judged once from the timeline.

A second stage over the timelines (`ledger.reporting.reports`): after they are caught up, the
learners whose timeline moved on since the rows were judged are judged again and their rows
rewritten (delete and insert), with the rows' position and the fingerprint of the rule book
that judged them in the same transaction. A rule book of another fingerprint (other
policies, nation or TOML) judges every learner again.

What depends on the judging date is left out: a registration keeps its deadline, submission
and leaving date (status and days late come from them in the query,
`ledger.reporting.report_queries`), a finding its `due_after`. Rows are exact for a date on
or after the learner's `stable_from` (the timeline reads the same on any such date); a report
judges the other learners from their timelines. Dates are kept as ordinals
(`date.toordinal()`), so comparisons and differences are the same SQL on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    inspect,
    select,
    text,
)

from ledger.bulk.progress import NoProgress, Progress
from ledger.reporting.fingerprint import ROWS_FORMAT, rulebook_fingerprint  # noqa: F401 (re-exported)
from ledger.reporting.reports import ADVISORY_LOCK, TIMELINES_TABLE, ReportsView
from ledger.reporting.row_versions import Version, is_whole, learner_versions, recorded_us
from ledger.storage.bulk_writes import copy_buffer
from ledger.storage.persistence import create_tables_once
from projections.late_registrations import registration_facts, unjudged_reason
from projections.maladministration import Finding, timeline_findings
from projections.policy import PolicyLike
from projections.timeline import LearnerView, Timeline, stable_from

if TYPE_CHECKING:
    from ledger.app import LedgerApp

REFRESH_CHUNK = 500
PARALLEL_JUDGE_FROM = 5_000  # learners: a re-judge of fewer is judged in this process
EVIDENCE_DIGITS = 12  # evidence positions as fixed-width text sort as the lists do
POSITION_INDEX = "ix_ledger_report_timelines_position"


def _text(length: int | None = None) -> Any:
    """Text compared as its bytes (code points) on both databases, as Python sorts it:
    PostgreSQL's "C" collation; SQLite's default BINARY does so already."""
    plain = String(length) if length else Text()
    return plain.with_variant(String(length, collation="C") if length
                              else Text(collation="C"), "postgresql")


metadata = MetaData()
# a kept registration's columns the reports read beside those of their order
REGISTRATION_READ = ("stable_from", "programme_start", "submitted", "left_on", "rule",
                     "rule_version", "clause", "evidence", "learner_id")
learners_table = Table(
    "ledger_report_learners", metadata,
    Column("learner_id", String(36), primary_key=True),
    Column("centre", _text(20)),
    Column("reference", _text(40)),
    Column("position", BigInteger, nullable=False),
    Column("stable_from", Integer, nullable=False),  # ordinal; 0: no dated fact
    Column("recorded_from", BigInteger, nullable=False),  # microseconds since the epoch
    Index("ix_ledger_report_learners_stable", "stable_from"),
)
registrations_table = Table(
    "ledger_report_registrations", metadata,
    Column("learner_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("centre", _text(20), nullable=False),
    Column("learner", _text(40), nullable=False),
    Column("enrolment", _text(40), nullable=False),
    Column("awarding_body", _text(40), nullable=False),
    Column("programme_start", Integer, nullable=False),
    Column("deadline", Integer),  # None: not judged, `reason` says why
    Column("submitted", Integer),
    Column("left_on", Integer),
    Column("rule", Text),
    Column("rule_version", Text),
    Column("clause", Text),
    Column("evidence", Text),
    Column("reason", Text),
    Column("stable_from", Integer, nullable=False),
    Column("recorded_from", BigInteger, nullable=False),
    # the reports' two orders, each index holding every column a report reads, so that a
    # report reads the index alone, in order (SQLite: a "covering index"), not a table row
    # looked up for each entry: the late-registration report's by deadline, the findings'
    # by learner
    Index("ix_ledger_report_registrations_deadline_rows", "centre", "awarding_body",
          "deadline", "learner", "enrolment", *REGISTRATION_READ),
    Index("ix_ledger_report_registrations_learner_rows", "centre", "awarding_body", "learner",
          "enrolment", "deadline", *REGISTRATION_READ),
)
# indexes of the tables above that a version before them made, dropped when they are made
SUPERSEDED_INDEXES = ("ix_ledger_report_registrations_deadline",
                      "ix_ledger_report_registrations_learner")
findings_table = Table(
    "ledger_report_findings", metadata,
    Column("learner_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("centre", _text(20), nullable=False),
    Column("awarding_body", _text(40), nullable=False),
    Column("learner", _text(40), nullable=False),
    Column("enrolment", _text(40)),
    Column("enrolment_key", _text(40), nullable=False),  # enrolment or '' (sorts first)
    Column("rule", _text(80), nullable=False),
    Column("evidence_key", _text(), nullable=False),
    Column("source_body", _text(40), nullable=False),  # the enrolments' AO: --awarding-body
    Column("rule_version", Text, nullable=False),
    Column("clause", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("dates", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("citation", Text, nullable=False),
    Column("due_after", Integer),
    Column("stable_from", Integer, nullable=False),
    Column("recorded_from", BigInteger, nullable=False),
    Index("ix_ledger_report_findings_order", "centre", "awarding_body", "learner",
          "enrolment_key", "rule", "evidence_key", "seq"),
)
state_table = Table(
    "ledger_report_rows_state", metadata,
    Column("name", String(20), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
)
STATE_NAME = "rows"


def history_of(table: Table) -> Table:
    """The table of a learner's earlier versions of these rows: the same columns, and the
    moment the next version stands from (`recorded_to`), keyed by learner and moment."""
    columns = [Column(column.name, column.type, nullable=column.nullable,
                      primary_key=column.name in ("learner_id", "seq", "recorded_from"))
               for column in table.columns]
    return Table(table.name.replace("ledger_report_", "ledger_report_past_"), metadata,
                 *columns, Column("recorded_to", BigInteger, nullable=False))


def dated_of(table: Table) -> Table:
    """The table of a learner's current rows as judged for a span of judging dates before
    the current rows stand (`stable_from`): [date_from, date_to) as ordinals, made when a
    report on such a date first asks (`ledger.reporting.dated_rows`)."""
    columns = [Column(column.name, column.type, nullable=column.nullable,
                      primary_key=column.name in ("learner_id", "seq"))
               for column in table.columns]
    return Table(table.name.replace("ledger_report_", "ledger_report_dated_"), metadata,
                 *columns, Column("date_from", Integer, primary_key=True),
                 Column("date_to", Integer, nullable=False))


learners_history = history_of(learners_table)
registrations_history = history_of(registrations_table)
findings_history = history_of(findings_table)
learners_dated = dated_of(learners_table)
registrations_dated = dated_of(registrations_table)
findings_dated = dated_of(findings_table)
CURRENT_TABLES = (learners_table, registrations_table, findings_table)
HISTORY_TABLES = (learners_history, registrations_history, findings_history)
DATED_TABLES = (learners_dated, registrations_dated, findings_dated)
JUDGED_TABLES = (*CURRENT_TABLES, *HISTORY_TABLES, *DATED_TABLES)


@dataclass(frozen=True)
class RowsState:
    """Where the kept rows stand: the timelines' position and the rule book's fingerprint."""

    position: int
    fingerprint: str


def open_rows(app: LedgerApp) -> None:
    """The kept rows' tables, and the timelines' index on position, made if missing (a ledger
    made by an earlier version gets them on its first report)."""
    def create() -> None:
        _drop_older_rows(app)
        metadata.create_all(app.engine, checkfirst=True)
        _index_older_rows(app)
        indexes = {index["name"] for index in inspect(app.engine).get_indexes(TIMELINES_TABLE)}
        if POSITION_INDEX not in indexes:  # only its owner may create it, even IF NOT EXISTS
            with app.engine.begin() as connection:
                connection.execute(text(f"CREATE INDEX IF NOT EXISTS {POSITION_INDEX} "
                                        f"ON {TIMELINES_TABLE} (position)"))
    create_tables_once(create)


def _drop_older_rows(app: LedgerApp) -> None:
    """Kept rows made by a version without their recorded moments are dropped (they are
    judged again): tables made afresh have every column."""
    inspector = inspect(app.engine)
    if not inspector.has_table(learners_table.name):
        return
    if "recorded_from" in {column["name"] for column in inspector.get_columns(
            learners_table.name)}:
        return
    with app.engine.begin() as connection:
        for table in (*CURRENT_TABLES, state_table):
            connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))


def _index_older_rows(app: LedgerApp) -> None:
    """The current tables' indexes that a ledger made by an earlier version lacks, made (and
    the ones they supersede dropped) by a login that owns the tables: a faster read, the
    rows unchanged. Another login leaves them to the owner's next report."""
    inspector = inspect(app.engine)
    for table in CURRENT_TABLES:
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        missing = [index for index in table.indexes if index.name not in present]
        superseded = [name for name in SUPERSEDED_INDEXES if name in present]
        if not (missing or superseded) or not _owns(app, table.name):
            continue
        for index in missing:
            index.create(app.engine, checkfirst=True)
        with app.engine.begin() as connection:
            for name in superseded:
                connection.execute(text(f"DROP INDEX IF EXISTS {name}"))


def _owns(app: LedgerApp, table: str) -> bool:
    """Whether this login may change the table's indexes (SQLite: whoever writes the file)."""
    if app.engine.dialect.name != "postgresql":
        return True
    with app.engine.connect() as connection:
        return bool(connection.exec_driver_sql(
            "SELECT pg_has_role((SELECT relowner FROM pg_class WHERE oid = "
            "to_regclass(%(table)s)), 'USAGE')", {"table": table}).scalar())


# PostgreSQL: every kept-rows table there and writable by this login (SELECT, INSERT and
# DELETE each: has_table_privilege is true when any one listed is held), and the timelines'
# index there; else whether the login may make what is missing (it owns the timelines).
MAY_WRITE_ROWS = f"""
SELECT CASE WHEN (SELECT bool_and(to_regclass(name) IS NOT NULL
                   AND has_table_privilege(to_regclass(name), 'SELECT')
                   AND has_table_privilege(to_regclass(name), 'INSERT')
                   AND has_table_privilege(to_regclass(name), 'DELETE'))
                  FROM unnest(%(tables)s::text[]) AS name)
            AND to_regclass('{POSITION_INDEX}') IS NOT NULL
       THEN true
       ELSE has_schema_privilege(current_schema(), 'CREATE')
            AND pg_has_role((SELECT relowner FROM pg_class
                             WHERE oid = to_regclass('{TIMELINES_TABLE}')), 'USAGE')
       END
"""


def may_write_rows(app: LedgerApp) -> bool:
    """Whether this login may judge the kept rows (a login that may write the timelines may
    still lack the rows' tables: one granted before they existed). SQLite: always (the file's
    permissions are `reports.may_write_reports`' question)."""
    if app.engine.dialect.name != "postgresql":
        return True
    names = [table.name for table in (*JUDGED_TABLES, state_table)]
    with app.engine.connect() as connection:
        return bool(connection.exec_driver_sql(MAY_WRITE_ROWS, {"tables": names}).scalar())


def rows_state(connection: Connection) -> RowsState | None:
    """The kept rows' state, None before they were first judged."""
    found = connection.execute(select(state_table.c.position, state_table.c.fingerprint)
                               .where(state_table.c.name == STATE_NAME)).first()
    return None if found is None else RowsState(int(found[0]), found[1])


def refresh_rows(app: LedgerApp, book: PolicyLike, progress: Progress | None = None,
                 full: bool = False, workers: int | None = None) -> int:
    """Judge again the learners whose timeline moved since the rows were judged (every one
    when the rule book's fingerprint differs, or `full`); returns how many were judged. The
    timelines must be caught up first.

    Committed in batches of REFRESH_CHUNK learners in the order of their timelines'
    positions, the state's position moved to the batch's last timeline in the same
    transaction. The invariant: every learner whose timeline is at or before the state's
    position has rows judged from that timeline by the state's rule book. So a refresh
    stopped at any moment (kill -9 too) is continued by the next one, and other writers of
    the report tables go between the batches. A re-judge of every learner starts by
    forgetting every row, with the state at -1 and the new fingerprint; from
    PARALLEL_JUDGE_FROM learners it is judged by worker processes (`workers`: how many;
    default one per core) while the timelines stay where they were.
    """
    open_rows(app)
    fingerprint = rulebook_fingerprint(book)
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    progress = progress or NoProgress()
    with app.engine.begin() as connection:
        lock_rows(connection)
        state = rows_state(connection)
        caught_up = view.max_tracking_id(app.name) or 0
        again = state is None or state.fingerprint != fingerprint or full
        if not again and state is not None and state.position >= caught_up:
            return 0
        if again:
            _forget_rows(connection)
            write_rows_state(connection, RowsState(-1, fingerprint))
        after = -1 if again else state.position  # type: ignore[union-attr]
        total = _count_changed(connection, after)
    progress.start("Report rows", total)
    judged = 0
    if again and total >= PARALLEL_JUDGE_FROM:
        from ledger.reporting.rebuild import judge_in_parallel  # the workers' room
        judged = judge_in_parallel(app, book, RowsState(-1, fingerprint), caught_up,
                                   progress, workers)
    while True:
        with app.engine.begin() as connection:
            lock_rows(connection)
            state = rows_state(connection)
            if state is None or state.fingerprint != fingerprint:
                return judged  # another rule book is judging them meanwhile: its refresh's
            found = _timelines_after(connection, state.position)
            if not found:
                caught_up = view.max_tracking_id(app.name) or 0
                if caught_up > state.position:
                    write_rows_state(connection, RowsState(caught_up, fingerprint))
                return judged
            _write_learners(app, connection, [orjson.loads(value) for _, value in found],
                            book, replace=True)
            write_rows_state(connection, RowsState(found[-1][0], fingerprint))
        judged += len(found)
        progress.update(judged, judged)


def _forget_rows(connection: Connection) -> None:
    """Every kept row gone (the start of a re-judge)."""
    for table in JUDGED_TABLES:
        connection.execute(delete(table))


def _timelines_after(connection: Connection, after: int) -> list[tuple[int, str]]:
    """The next REFRESH_CHUNK timelines beyond a position, in position order: (position,
    timeline JSON)."""
    return [(int(position), value) for position, value in connection.execute(text(
        f"SELECT position, timeline FROM {TIMELINES_TABLE} WHERE position > :after "
        "ORDER BY position LIMIT :size"), {"after": after, "size": REFRESH_CHUNK})]


def forget_rows(app: LedgerApp) -> None:
    """Every kept row gone and no state (nothing judged): the start of a rebuild that judges
    them again (`rebuild.rebuild`); stopped part way, the next refresh judges every learner."""
    open_rows(app)
    with app.engine.begin() as connection:
        lock_rows(connection)
        _forget_rows(connection)
        connection.execute(delete(state_table))


def clear_rows(app: LedgerApp) -> None:
    """Forget the kept rows: the next refresh judges every learner (after a rebuild)."""
    open_rows(app)
    with app.engine.begin() as connection:
        lock_rows(connection)
        connection.execute(delete(state_table))


def lock_rows(connection: Connection) -> None:
    """One writer of the report tables at a time (the timelines' lock: the timelines do not
    move while the rows are judged from them)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK}, "
                                "hashtext(current_schema()))"))
    else:  # a first statement that writes: the transaction holds the write lock
        connection.execute(state_table.update().where(text("0 = 1")).values(position=0))


def _count_changed(connection: Connection, after: int) -> int:
    return int(connection.execute(text(
        f"SELECT count(*) FROM {TIMELINES_TABLE} WHERE position > :after"),
        {"after": after}).scalar() or 0)


def _write_learners(app: LedgerApp, connection: Connection, timelines: list[Timeline],
                    book: PolicyLike, replace: bool) -> None:
    """These learners' rows, judged from each version of their timelines (replacing those
    they had): the last version's in the current tables, the earlier ones' in the history.
    A learner whose new events were all recorded after its current rows' moment keeps its
    versions before them: its current rows move into the history as they are, and only the
    new versions are judged."""
    rows: Judged = {table: [] for table in JUDGED_TABLES}
    by_id = {timeline["learner_id"]: timeline for timeline in timelines}
    before = _current_versions(connection, list(by_id)) if replace else {}
    kept = {learner: moment for learner, moment in (
        (learner, _first_new_moment(by_id[learner], found))
        for learner, found in before.items()) if moment is not None}
    for learner_id, versions in learner_versions(app, timelines, connection):
        judge_versions(versions, book, rows, kept.get(learner_id))
    if replace:
        _move_into_history(connection, kept, rows)
        ids = [learner for learner in by_id if learner not in kept]
        for table in JUDGED_TABLES:
            connection.execute(delete(table).where(table.c.learner_id.in_(ids)))
        for table in (*CURRENT_TABLES, *DATED_TABLES):
            connection.execute(delete(table).where(table.c.learner_id.in_(list(kept))))
    write_judged(connection, rows)


Judged = dict[Table, list[tuple[Any, ...]]]  # rows as tuples in their table's column order


def judge_versions(versions: list[Version], book: PolicyLike, rows: Judged,
                   kept_from: int | None = None) -> None:
    """A learner's rows judged from each of its versions, as tuples added to `rows`: the last
    version's for the current tables, the earlier ones' (with the moment the next stands
    from) for the history. Versions without a live record of the learner are passed over, and
    those before `kept_from` (kept as they are)."""
    for index, (moment, timeline) in enumerate(versions):
        if timeline["centre"] is None or (kept_from is not None and moment < kept_from):
            continue
        last = index == len(versions) - 1
        tables = CURRENT_TABLES if last else HISTORY_TABLES
        end = () if last else (versions[index + 1][0],)
        for current, table, judged in zip(CURRENT_TABLES, tables, _judged_lists(timeline, book),
                                          strict=True):
            columns = _COLUMNS[current]
            found = rows[table]
            for row in judged:
                row["recorded_from"] = moment
                found.append(columns(row) + end)


def write_judged(connection: Connection, rows: Judged) -> None:
    """Judged rows inserted through the driver as tuples, on the connection's transaction:
    SQLite's executemany; PostgreSQL's COPY (SQLAlchemy's insert of dicts processed every
    row's parameters: a tenth of a serial judge)."""
    cursor = connection.connection.cursor()
    try:
        for table, found in rows.items():
            if not found:
                continue
            names = [column.name for column in table.columns]
            if connection.dialect.name == "postgresql":
                cursor.copy_expert(f"COPY {table.name} ({', '.join(names)}) FROM STDIN",
                                   copy_buffer(found))
            else:
                cursor.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
                                   f"({', '.join('?' * len(names))})", found)
    finally:
        cursor.close()


def _current_versions(connection: Connection, learners: list[str]) -> dict[str, tuple[int, int]]:
    """The position and moment of each learner's current rows (those that have them)."""
    table = learners_table
    return {learner: (position, moment) for learner, position, moment in connection.execute(
        select(table.c.learner_id, table.c.position, table.c.recorded_from)
        .where(table.c.learner_id.in_(learners)))}


def _first_new_moment(timeline: Timeline, current: tuple[int, int]) -> int | None:
    """The earliest recorded time of the learner's events since its current rows were judged,
    when every version before it stands as judged: the timeline is whole and that time is
    after the current rows' moment. None: judge every version again."""
    position, moment = current
    if not is_whole(timeline):
        return None
    new = [recorded_us(fact["recorded"]) for fact in timeline["facts"]
           if fact["position"] > position]
    first = min(new, default=None)
    return first if first is not None and first > moment else None


def _move_into_history(connection: Connection, kept: dict[str, int], rows: Judged) -> None:
    """These learners' current rows, as they are, into the history up to their moment."""
    if not kept:
        return
    for current, history in zip(CURRENT_TABLES, HISTORY_TABLES, strict=True):
        found = connection.execute(select(current).where(current.c.learner_id.in_(list(kept))))
        rows[history].extend((*row, kept[row.learner_id]) for row in found)


def _judged_lists(timeline: Timeline, book: PolicyLike) -> tuple[list[dict[str, Any]], ...]:
    learner, registrations, findings = judged_rows(timeline, book)
    return [learner], registrations, findings


# a current table's row (a dict) as a tuple in its columns' order
_COLUMNS = {table: itemgetter(*(column.name for column in table.columns))
            for table in CURRENT_TABLES}


def write_rows_state(connection: Connection, state: RowsState) -> None:
    """The kept rows' state, replacing the one there, on the connection's transaction."""
    connection.execute(delete(state_table))
    connection.execute(insert(state_table), [{"name": STATE_NAME, "position": state.position,
                                              "fingerprint": state.fingerprint}])


def judged_rows(timeline: Timeline, book: PolicyLike,
                ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A learner's row, registration rows and finding rows, judged from the whole timeline."""
    view = LearnerView(timeline)
    stable = stable_from(timeline)
    stable_ordinal = stable.toordinal() if stable else 0
    learner_id = timeline["learner_id"]
    learner = {"learner_id": learner_id, "centre": view.centre, "reference": view.reference,
               "position": timeline["position"], "stable_from": stable_ordinal}
    registrations = [
        {**row, "learner_id": learner_id, "seq": seq, "stable_from": stable_ordinal}
        for seq, row in enumerate(registration_rows(view, book))]
    findings = [
        {**finding_row(found, body), "learner_id": learner_id, "seq": seq,
         "stable_from": stable_ordinal}
        for seq, (body, found) in enumerate(timeline_findings(view, book))]
    return learner, registrations, findings


def registration_rows(view: LearnerView, book: PolicyLike) -> Iterator[dict[str, Any]]:
    """Each enrolment's registration facts, or why no rule judges it."""
    for enrolled in view.enrolments():
        body = enrolled["values"]["awarding_body"]
        start = date.fromisoformat(enrolled["values"]["programme_start"])
        row: dict[str, Any] = {
            "centre": view.centre, "learner": view.reference,
            "enrolment": enrolled["enrolment"], "awarding_body": body,
            "programme_start": start.toordinal(), "deadline": None, "submitted": None,
            "left_on": None, "rule": None, "rule_version": None, "clause": None,
            "evidence": None, "reason": unjudged_reason(book, body, start)}
        if row["reason"] is None:
            rules = book.rules_in_force(body, start)
            assert rules is not None
            facts = registration_facts(view, enrolled, rules["late-registration"],
                                       book.calendar_for(view.centre))
            row.update(deadline=facts.deadline.toordinal(), submitted=_ordinal(facts.submitted),
                       left_on=_ordinal(facts.left), rule=facts.rule,
                       rule_version=facts.rule_version, clause=facts.clause,
                       evidence=json.dumps(facts.evidence))
        yield row


def finding_row(found: Finding, body: str) -> dict[str, Any]:
    """A finding as a row of the findings table (its sort keys included)."""
    return {
        "centre": found.centre, "awarding_body": found.awarding_body,
        "learner": found.learner or "", "enrolment": found.enrolment,
        "enrolment_key": found.enrolment or "", "rule": found.rule,
        "evidence_key": evidence_key(found.evidence), "source_body": body,
        "rule_version": found.rule_version, "clause": found.clause,
        "severity": found.severity,
        "dates": json.dumps({key: value.isoformat() if value else None
                             for key, value in found.dates.items()}),
        "evidence": json.dumps(found.evidence), "message": found.message,
        "citation": found.citation, "due_after": _ordinal(found.due_after)}


def evidence_key(evidence: Iterable[int]) -> str:
    """Evidence positions as text that sorts as the lists do (fixed-width, zero-padded)."""
    return "".join(str(position).zfill(EVIDENCE_DIGITS) for position in evidence)


def _ordinal(day: date | None) -> int | None:
    return None if day is None else day.toordinal()


def kept_centres(app: LedgerApp, centre: str | None = None) -> list[str]:
    """The centres of the learners in the kept rows (only `centre`, when given and there)."""
    query = select(learners_table.c.centre).distinct().where(learners_table.c.centre.is_not(None))
    if centre is not None:
        query = query.where(learners_table.c.centre == centre)
    with app.engine.connect() as connection:
        return sorted(value for (value,) in connection.execute(query))
