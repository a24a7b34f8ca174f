"""Running the report projections: incremental catch-up, full rebuild, and as-at replays."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError, Notification, OperationalError, Tracking
from eventsourcing.projection import Projection
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    Connection,
    MetaData,
    Select,
    String,
    Table,
    Text,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aggregates.errors import ConcurrencyConflict
from aggregates.learner import Learner
from ledger.bulk.gc_pause import cyclic_gc_paused
from ledger.bulk.progress import NoProgress, Progress
from ledger.reporting.plain_events import entries_of_rows
from ledger.storage.bulk_writes import copy_rows, deletes_without_zeroing
from ledger.storage.persistence import create_tables_once, widen_sqlite_cache
from ledger.storage.raw_rows import json_text_column, originator_column, originator_share, raw_rows
from projections.timeline import (
    Entry,
    Timeline,
    apply_entry,
    apply_event,
    entry_of_event,
    is_learner_event,
    new_timeline,
)

if TYPE_CHECKING:
    from ledger.app import LedgerApp

TIMELINES_TABLE = "ledger_report_timelines"
TRACKING_TABLE = "ledger_reports_tracking"
MOMENTS_TABLE = "ledger_report_moments"
# Positions a row of the moments table sums up: the earliest and latest recorded times of the
# learner events in positions [bucket * MOMENT_BUCKET, (bucket + 1) * MOMENT_BUCKET)
MOMENT_BUCKET = 1_000
PAGE_SIZE = 500
LOAD_CHUNK = 900
ADVISORY_LOCK = 8150003
LEARNER_TOPICS = tuple(
    f"{Learner.__module__}:{cls.__qualname__}"
    for name, cls in vars(Learner).items()
    if isinstance(cls, type) and issubclass(cls, Learner.Event) and name != "Event"
)


# PostgreSQL compresses a timeline's JSON of more than about 2 kB (half the bench's) as it
# stores it, with pglz by default; lz4 writes a rebuild's rows in a sixth less time (and
# reads faster). Only where the server has it, and only on a table made new (old rows keep
# their compression; a table made by an earlier version keeps pglz).
LZ4_TIMELINES = DDL("ALTER TABLE %(fullname)s ALTER COLUMN timeline SET COMPRESSION lz4")
HAS_LZ4 = ("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
           "AND 'lz4' = ANY(enumvals)")


def _has_lz4(_ddl: DDL, _target: Table, bind: Connection, **_: Any) -> bool:
    """Whether the database is a PostgreSQL server with lz4 compression (14 and later, when
    built with it)."""
    return bind.dialect.name == "postgresql" and bind.exec_driver_sql(HAS_LZ4).first() is not None


class ReportsView(SQLAlchemyTrackingRecorder):
    """Materialised learner timelines; each batch writes its rows and tracking in one go.

    The tracking table is always `ledger_reports_tracking` (a name a factory passes is
    ignored), so `catch_up` in any client and a `ProjectionRunner` share one position.
    """

    def __init__(self, datastore: SQLAlchemyDatastore, *, tracking_table_name: str = "",
                 schema_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE,
                         schema_name=schema_name, **kwargs)
        self.timelines = Table(
            TIMELINES_TABLE, MetaData(schema=schema_name),
            Column("learner_id", String(36), primary_key=True),
            Column("centre", String(20), index=True),
            Column("reference", String(40)),
            Column("position", BigInteger, nullable=False),
            Column("timeline", Text, nullable=False),
        )
        sqlalchemy_event.listen(self.timelines, "after_create", LZ4_TIMELINES.execute_if(
            callable_=_has_lz4))
        # the earliest and latest recorded times (microseconds since the epoch, UTC) among
        # the learner events of each bucket of positions folded: `--as-at` reads only the
        # buckets recorded after its moment, or before it (ledger.reporting.as_at)
        self.moments = Table(
            MOMENTS_TABLE, MetaData(schema=schema_name),
            Column("bucket", BigInteger, primary_key=True, autoincrement=False),
            Column("earliest", BigInteger, nullable=False),
            Column("latest", BigInteger, nullable=False),
        )
        self.tables.extend([self.timelines, self.moments])

    def apply(self, entries: list[Entry], tracking: Tracking, after: int | None = None) -> int:
        """Fold new learner events into the timelines; returns how many were new.

        The rows and the tracking position are written in one transaction. Events at or
        below the recorded position were processed already and are skipped, so a batch
        delivered twice changes nothing. `after`: the position the batch was read from;
        when given, a batch is refused (0) unless the reports are still there (another
        process caught up or cleared them meanwhile: read again from where they are now).
        """
        with self.transaction(commit=True) as session:
            self._lock(session)
            done = self._max_tracking(session, tracking.application_name) or 0
            fresh = [entry for entry in entries if entry.position > done]
            if tracking.notification_id <= done or (after is not None and after != done):
                return 0
            stored = self._load(session, learners_of(fresh))
            timelines = fold(stored, fresh)
            self._write(session, [timeline_row(timelines[i]) for i in sorted(timelines)],
                        list(stored))
            self._note_moments(session, moments_by_bucket(fresh))
            self._insert_tracking(session, tracking)
            return len(fresh)

    def replace(self, rows: list[dict[str, Any]], tracking: Tracking, after: int,
                stored: list[str] | None = None,
                moments: dict[int, Span] | None = None, track: bool = True,
                also: Callable[[Session], None] | None = None) -> bool:
        """Write timeline rows folded elsewhere, with the tracking position, in one go.

        Only if the reports were caught up to exactly `after` (the rows were folded from
        that state); False, writing nothing, when another process has moved them since.
        `stored`: the learners among the rows that have a row already, when known.
        `moments`: the earliest and latest recorded times of the folded events by bucket of
        positions (`moments_by_bucket`). `track` False: the tracking position is left as it
        is (`after`), as a rebuild folding learner by learner writes its timelines.
        `also`: more writes in the same transaction (a rebuild's judged report rows).
        """
        with self.transaction(commit=True) as session:
            self._lock(session)
            if (self._max_tracking(session, tracking.application_name) or 0) != after:
                return False
            self._write(session, rows, stored)
            self._note_moments(session, moments or {})
            if track:
                self._insert_tracking(session, tracking)
            if also is not None:
                also(session)
            return True

    def load(self, ids: list[str]) -> dict[str, Timeline]:
        """The stored timelines of these learners (those that have one)."""
        with self.transaction(commit=False) as session:
            return self._load(session, ids)

    def clear(self, application_name: str) -> None:
        """Forget every timeline and the tracking position (the start of a rebuild)."""
        with self.transaction(commit=True) as session:
            self._lock(session)
            with deletes_without_zeroing(session):
                session.execute(delete(self.timelines))
                session.execute(delete(self.moments))
            session.execute(delete(self.tracking_table).where(
                self.tracking_table.c.application_name == application_name))

    def rows(self, centre: str | None = None) -> Iterator[Timeline]:
        """The materialised timelines (of one centre), in learner-id order."""
        query = select(self.timelines.c.timeline).order_by(self.timelines.c.learner_id)
        if centre is not None:
            query = query.where(self.timelines.c.centre == centre)
        with self.transaction(commit=False) as session:
            found = [orjson.loads(value) for (value,) in session.execute(query)]
        yield from found

    def learners(self, centre: str) -> list[tuple[str, str]]:
        """The learners (id, reference) of a centre with a timeline, in id order."""
        query = (select(self.timelines.c.learner_id, self.timelines.c.reference)
                 .where(self.timelines.c.centre == centre)
                 .order_by(self.timelines.c.learner_id))
        with self.transaction(commit=False) as session:
            return [(learner, reference) for learner, reference in session.execute(query)]

    def buckets_after(self, latest: int) -> list[int]:
        """The buckets of positions folded that hold a learner event recorded after `latest`
        (microseconds since the epoch), in order."""
        query = (select(self.moments.c.bucket).where(self.moments.c.latest > latest)
                 .order_by(self.moments.c.bucket))
        with self.transaction(commit=False) as session:
            return [int(bucket) for (bucket,) in session.execute(query)]

    def last_bucket_by(self, latest: int) -> int | None:
        """The last bucket of positions folded that holds a learner event recorded at or
        before `latest` (microseconds since the epoch); None if none does."""
        query = select(func.max(self.moments.c.bucket)).where(self.moments.c.earliest <= latest)
        with self.transaction(commit=False) as session:
            found = session.execute(query).scalar()
        return None if found is None else int(found)

    def _note_moments(self, session: Session, moments: dict[int, Span]) -> None:
        """Widen each bucket's span of recorded times to take in the one given (a bucket's
        events can be folded in several batches)."""
        if not moments:
            return
        values = [{"bucket": bucket, "earliest": first, "latest": last}
                  for bucket, (first, last) in sorted(moments.items())]
        if session.get_bind().dialect.name == "postgresql":
            upsert = postgresql_insert(self.moments)
            lower, higher = func.least, func.greatest
        else:
            upsert = sqlite_insert(self.moments)  # type: ignore[assignment]
            lower, higher = func.min, func.max
        session.execute(upsert.on_conflict_do_update(index_elements=["bucket"], set_={
            "earliest": lower(self.moments.c.earliest, upsert.excluded.earliest),
            "latest": higher(self.moments.c.latest, upsert.excluded.latest)}), values)

    def _load(self, session: Session, ids: list[str]) -> dict[str, Timeline]:
        """The stored timelines of these learners, read in chunks (older SQLite builds take
        at most 999 parameters a statement)."""
        found: dict[str, Timeline] = {}
        for start in range(0, len(ids), LOAD_CHUNK):
            query = select(self.timelines.c.learner_id, self.timelines.c.timeline).where(
                self.timelines.c.learner_id.in_(ids[start:start + LOAD_CHUNK]))
            found.update((learner, orjson.loads(value))
                         for learner, value in session.execute(query))
        return found

    def _write(self, session: Session, rows: list[dict[str, Any]],
               stored: list[str] | None = None) -> None:
        """Insert these learners' rows, replacing those they already have: an upsert on
        SQLite; on PostgreSQL a delete and a COPY (a multi-row INSERT costs it twice as much).

        `stored`, when the caller knows them: the learners that have a row already, the only
        ones PostgreSQL then deletes (a new learner whose row exists after all fails the COPY).
        """
        if not rows:
            return
        try:
            if session.get_bind().dialect.name == "postgresql":
                replaced = [row["learner_id"] for row in rows] if stored is None else stored
                if replaced:
                    session.execute(delete(self.timelines).where(
                        self.timelines.c.learner_id.in_(replaced)))
                copy_rows(session, self.timelines, rows)
                return
            if len(rows) > PAGE_SIZE:  # more than a catch-up's page holds: a rebuild's window
                widen_sqlite_cache(session)
            with deletes_without_zeroing(session):  # replaced rows free their old bytes
                self._sqlite_upsert(session, rows)
        except session.get_bind().dialect.dbapi.Error as error:  # type: ignore[union-attr]
            raise OperationalError(f"could not write the reports: {error}") from error

    @cached_property
    def _upsert_sql(self) -> tuple[str, tuple[str, ...]]:
        """SQLite: SQLAlchemy's upsert of a timeline row, compiled, and its parameters' names
        in order."""
        upsert = sqlite_insert(self.timelines)
        statement = upsert.on_conflict_do_update(
            index_elements=["learner_id"],
            set_={name: upsert.excluded[name]
                  for name in ("centre", "reference", "position", "timeline")})
        compiled = statement.compile(dialect=sqlite_dialect())
        return str(compiled), tuple(compiled.positiontup or ())

    def _sqlite_upsert(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """SQLite: the rows upserted through the driver, on the session's transaction, as
        tuples: through SQLAlchemy, processing each row's parameters (none of these columns'
        types converts a value) took a fifth of a large rebuild's writing process."""
        sql, names = self._upsert_sql
        cursor = session.connection().connection.cursor()
        try:
            cursor.executemany(sql, [tuple([row[name] for name in names]) for row in rows])
        finally:
            cursor.close()

    def _max_tracking(self, session: Session, application_name: str) -> int | None:
        record = self.tracking_record_cls
        found = session.query(record.notification_id).filter(
            record.application_name == application_name).first()
        return None if found is None else int(found[0])

    def _lock(self, session: Session) -> None:
        """One writer at a time across processes, taken before anything is read.

        PostgreSQL: an advisory transaction lock of this ledger's schema (ledgers in other
        schemas of the database do not wait for it). SQLite: a first statement that writes,
        so the transaction holds the database's write lock (waiting for other writers) and
        reads what they committed.
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK}, "
                                 "hashtext(current_schema()))"))
        else:
            session.execute(self.timelines.update().where(text("0 = 1")).values(position=0))


def learners_of(entries: list[Entry]) -> list[str]:
    """The learners these events belong to, each once, in id order."""
    return sorted({entry.learner_id for entry in entries})


def fold(timelines: dict[str, Timeline], entries: list[Entry]) -> dict[str, Timeline]:
    """Fold events (in recorded order) into their learners' timelines: those given, or new
    ones; returns the timelines of every learner the events belong to."""
    touched: dict[str, Timeline] = {}
    for entry in entries:
        learner = entry.learner_id
        timeline = touched.get(learner)
        if timeline is None:
            timeline = touched[learner] = timelines.get(learner) or new_timeline(learner)
        if entry.position <= timeline["position"]:
            continue  # folded already: a rebuild stopped part way wrote the whole timeline
        apply_entry(timeline, entry)
    return touched


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def microseconds(moment: datetime) -> int:
    """A recorded time as microseconds since the epoch (UTC): exact, and in the order of the
    moments whatever their time zones."""
    return (moment - EPOCH) // MICROSECOND


def recorded_at(entry: Entry) -> datetime:
    """When the event was recorded: the library's timestamp, the time `--as-at` reads."""
    return datetime.fromisoformat(entry.state["timestamp"])


UTC_SUFFIX = "+00:00"
Span = tuple[int, int]  # the earliest and latest recorded times of a bucket's events


def moments_by_bucket(entries: Iterable[Entry]) -> dict[int, Span]:
    """The earliest and latest recorded times (microseconds since the epoch) among the
    events of each bucket of MOMENT_BUCKET positions.

    The library writes UTC times as ISO text ending +00:00, whose text order is their time
    order (fields of fixed width; a time without microseconds has + where another has .,
    which sorts first): a bucket's first and last texts are parsed once, not every event's
    (a rebuild passes every event here). Any other time is parsed."""
    texts: dict[int, tuple[str, str]] = {}
    spans: dict[int, Span] = {}
    for entry in entries:
        bucket = entry.position // MOMENT_BUCKET
        text = entry.state["timestamp"]
        if not text.endswith(UTC_SUFFIX):
            value = microseconds(datetime.fromisoformat(text))
            merge_moments(spans, {bucket: (value, value)})
            continue
        known = texts.get(bucket)
        if known is None:
            texts[bucket] = (text, text)
        elif text < known[0]:
            texts[bucket] = (text, known[1])
        elif text > known[1]:
            texts[bucket] = (known[0], text)
    return merge_moments(spans, {
        bucket: (microseconds(datetime.fromisoformat(first)),
                 microseconds(datetime.fromisoformat(last)))
        for bucket, (first, last) in texts.items()})


def merge_moments(target: dict[int, Span], more: dict[int, Span]) -> dict[int, Span]:
    """Each bucket's span over both (target is updated and returned)."""
    for bucket, (first, last) in more.items():
        known = target.get(bucket)
        target[bucket] = (first, last) if known is None else (min(known[0], first),
                                                               max(known[1], last))
    return target


def timeline_row(timeline: Timeline) -> dict[str, Any]:
    """A timeline as a row of the timelines table."""
    return {"learner_id": timeline["learner_id"], "centre": timeline["centre"],
            "reference": timeline["reference"], "position": timeline["position"],
            "timeline": orjson.dumps(timeline, option=orjson.OPT_SORT_KEYS).decode()}


class ReportsProjection(Projection[ReportsView]):
    """The library projection: every learner event goes into its learner's timeline."""

    name = "reports"
    topics = LEARNER_TOPICS

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        entries = ([entry_of_event(tracking.notification_id, domain_event)]
                   if is_learner_event(domain_event) else [])
        self.view.apply(entries, tracking)


def open_view(app: LedgerApp) -> ReportsView:
    """The reports' materialised view on the ledger's database (tables made if missing)."""
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    inspector = inspect(app.engine)
    older = inspector.has_table(TRACKING_TABLE) and not inspector.has_table(MOMENTS_TABLE)
    create_tables_once(view.create_table)
    if older:  # reports caught up by an earlier version, without the moments: fold again
        view.clear(app.name)
    return view


def notifications(app: LedgerApp, after: int = 0, stop: int | None = None,
                  page: int = PAGE_SIZE) -> Iterator[list[tuple[int, Any]]]:
    """Learner domain events after a position, personal data opened, a page at a time
    (memory stays flat): for replays, which show what was recorded."""
    decode = app.mapper.to_domain_event
    start = after
    while True:
        found = _learner_notifications(app, start, page, stop)
        if not found:
            return
        yield [(n.id, decode(n)) for n in found]
        start = found[-1].id
        if len(found) < page:
            return


def _learner_notifications(app: LedgerApp, after: int, limit: int,
                           stop: int | None) -> list[Notification]:
    """The recorder's select_notifications(topics=learner topics) as one Core query.

    Same rows, same order; without building an ORM object per row on the way.
    """
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    query = (select(table.c.id, table.c.originator_id, table.c.originator_version,
                    table.c.topic, table.c.state)
             .where(table.c.id > after, table.c.topic.in_(LEARNER_TOPICS))
             .order_by(table.c.id).limit(limit))
    if stop is not None:
        query = query.where(table.c.id <= stop)
    with app.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Notification(id=row[0], originator_id=row[1], originator_version=row[2],
                         topic=row[3], state=bytes(row[4])) for row in rows]


def learner_entries(app: LedgerApp, after: int, upto: int,
                    share: tuple[int, int] | None = None) -> list[Entry]:
    """The learner events at positions after `after` up to `upto`, decoded for the fold
    (only those of the learners in `share`, (part, parts), when given).

    Straight from the stored JSON (`ledger.reporting.plain_events`): no domain event objects, no
    personal data opened.
    """
    return entries_of_rows(raw_rows(app.engine, learner_rows(app, after, upto, share)))


def learner_rows(app: LedgerApp, after: int, upto: int,
                 share: tuple[int, int] | None = None) -> Select[Any]:
    """The query of `learner_entries`' rows as the driver returns them. Pages are windows of
    positions, not LIMITs, so the database reads only the window whatever its statistics
    say."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    conditions = [table.c.id > after, table.c.id <= upto]
    if share is not None:  # before the topics: SQLite tests the conditions in this order,
        # and the share, on the id's first byte, turns away more rows at less cost
        conditions.append(originator_share(app.engine, table.c.originator_id, *share))
    return (select(table.c.id, originator_column(app.engine, table.c.originator_id),
                   table.c.originator_version, table.c.topic,
                   json_text_column(app.engine, table.c.state))
            .where(*conditions, table.c.topic.in_(LEARNER_TOPICS))
            .order_by(table.c.id))


def entry_pages(app: LedgerApp, after: int = 0, stop: int | None = None,
                page: int = PAGE_SIZE) -> Iterator[list[Entry]]:
    """`learner_entries` window by window up to `stop` (default: the last position now);
    windows without learner events are passed over."""
    stop = last_position(app) if stop is None else stop
    while after < stop:
        upto = min(after + page, stop)
        entries = learner_entries(app, after, upto)
        if entries:
            yield entries
        after = upto


def last_position(app: LedgerApp) -> int:
    """The position of the last stored event (0 for an empty ledger)."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    with app.engine.connect() as connection:
        return int(connection.execute(select(func.max(table.c.id))).scalar() or 0)


def catch_up(app: LedgerApp, view: ReportsView, limit: int | None = None,
             page: int = PAGE_SIZE, attempts: int = 5, progress: Progress | None = None) -> int:
    """Process only the events not yet processed (at most `limit`); returns how many.

    `progress` follows the positions read, from the first one not processed to the last.
    """
    processed = 0
    failures = 0
    stop = last_position(app)
    first = view.max_tracking_id(app.name) or 0
    progress = progress or NoProgress()
    progress.start("Reports", stop - first)
    while limit is None or processed < limit:
        size = page if limit is None else min(page, limit - processed)
        done = view.max_tracking_id(app.name) or 0
        try:
            with cyclic_gc_paused():  # per page: garbage cycles are collected between pages
                batch = next(entry_pages(app, after=done, stop=stop, page=page), [])[:size]
                if not batch:
                    break
                processed += view.apply(batch, Tracking(app.name, batch[-1].position), done)
            progress.update(batch[-1].position - first, processed)
        except IntegrityError:
            failures += 1
            if failures >= attempts:
                raise ConcurrencyConflict("another process kept updating the reports") from None
    if limit is None:  # every position read, those after the last learner event too
        progress.update(max(stop - first, 0), processed)
    return processed


# Positions a rebuild folds per transaction. Each commit rewrites the pages of the learner-id
# index that the window's (randomly spread) learners touch, nearly all of them on a large
# ledger: fewer, larger windows write it fewer times (1,000,000 learners, 2026-12-02: 20,000
# gave 94,000 events/s, 50,000 gave 112,000), at the cost of holding a window in memory in
# every process. 30,000 (2026-12-07): the rebuild's three processes together peak at 253 to
# 272 MB on SQLite and about 200 on PostgreSQL, against 319 to 336 and 270 with 50,000 (the
# mark is 300), for about 5% of the rate on SQLite at 1,000,000 learners (docs/performance.md).
REBUILD_PAGE_SIZE = 30_000


def current_timelines(app: LedgerApp, centre: str | None = None,
                      ) -> tuple[list[Timeline], int]:
    """The timelines after catching up with every recorded event (a large gap on several
    cores: `catch_up_all`), and the position caught up to (the ledger digest at that
    position names what the report was computed from).

    A login or file that may not write the report tables gets them caught up in memory
    (`timelines_read_only`): a report never needs to write."""
    if not may_write_reports(app):
        return timelines_read_only(app, centre)
    # imported here: the rebuild's module is built on this one
    from ledger.reporting.rebuild import catch_up_all

    view = open_view(app)
    catch_up_all(app, view)
    return list(view.rows(centre)), view.max_tracking_id(app.name) or 0


def may_write_reports(app: LedgerApp) -> bool:
    """Whether this process may catch the report tables up: on PostgreSQL the login has
    INSERT on them (or may create them, when missing); on SQLite the file is writable and
    not made read-only (chmod a-w)."""
    engine = app.engine
    if engine.dialect.name == "sqlite":
        path = engine.url.database or ""
        if path in ("", ":memory:"):
            return True
        # a file whose write bits are off is read-only, even to root who could write it
        return os.access(path, os.W_OK) and bool(os.stat(path).st_mode & 0o222)
    with engine.connect() as connection:
        return bool(connection.exec_driver_sql(
            "SELECT CASE WHEN to_regclass(%(timelines)s) IS NULL "
            "OR to_regclass(%(tracking)s) IS NULL "
            "THEN has_schema_privilege(current_schema(), 'CREATE') "
            "ELSE has_table_privilege(to_regclass(%(timelines)s), 'INSERT, UPDATE, DELETE') "
            "AND has_table_privilege(to_regclass(%(tracking)s), 'INSERT') END",
            {"timelines": TIMELINES_TABLE, "tracking": TRACKING_TABLE}).scalar())


def timelines_read_only(app: LedgerApp, centre: str | None = None,
                        ) -> tuple[list[Timeline], int]:
    """`current_timelines` without writing: the stored timelines (if there are any) with
    the events recorded since they were caught up folded in, in memory.

    An event at or before a stored timeline's own position is in it already (a learner's
    events are folded in position order), so a catch-up by another process between the
    reads folds nothing twice."""
    view = ReportsView(app.recorder.datastore)  # type: ignore[attr-defined]
    timelines: dict[str, Timeline] = {}
    done = 0
    inspector = inspect(app.engine)
    if inspector.has_table(TIMELINES_TABLE) and inspector.has_table(TRACKING_TABLE):
        done = view.max_tracking_id(app.name) or 0
        timelines = {timeline["learner_id"]: timeline for timeline in view.rows()}
    stop = last_position(app)
    for batch in entry_pages(app, after=done, stop=stop, page=REBUILD_PAGE_SIZE):
        with cyclic_gc_paused():
            fresh = [entry for entry in batch if entry.position > timelines.get(
                entry.learner_id, _UNSEEN)["position"]]
            timelines.update(fold(timelines, fresh))
    found = [t for t in timelines.values() if centre is None or t["centre"] == centre]
    return sorted(found, key=lambda t: t["learner_id"]), stop


_UNSEEN: Timeline = {"position": 0}


def timelines_as_at(app: LedgerApp, as_at: datetime, centre: str | None = None,
                    stop: int | None = None) -> list[Timeline]:
    """Timelines from the events recorded up to `as_at`, folded in memory page by page."""
    timelines: dict[str, Timeline] = {}
    pages = entry_pages(app, stop=stop, page=REBUILD_PAGE_SIZE)
    while True:
        with cyclic_gc_paused():  # per page: garbage cycles are collected between pages
            batch = next(pages, None)
            if batch is None:
                break
            for entry in batch:
                if recorded_at(entry) > as_at:
                    continue
                learner = entry.learner_id
                apply_entry(timelines.setdefault(learner, new_timeline(learner)), entry)
    found = [t for t in timelines.values() if centre is None or t["centre"] == centre]
    return sorted(found, key=lambda t: t["learner_id"])


def replay(app: LedgerApp, learner: UUID | None = None, until: datetime | int | None = None,
           ) -> Iterable[tuple[int, Any, Timeline]]:
    """Each learner event in recorded order with its learner's timeline just after it."""
    timelines: dict[str, Timeline] = {}
    stop = until if isinstance(until, int) else None
    pages: Iterable[list[tuple[int, Any]]] = (
        notifications(app, stop=stop) if learner is None else [app.learner_events(learner)])
    for batch in pages:
        for position, event in batch:
            if isinstance(until, datetime) and event.timestamp > until:
                continue
            if stop is not None and position > stop:
                break
            key = str(event.originator_id)
            timeline = apply_event(timelines.setdefault(key, new_timeline(key)), position, event)
            yield position, event, timeline
