"""The import run: check every row against the ledger first, then write batch by batch."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, closing
from copy import copy
from dataclasses import dataclass, field
from datetime import date
from itertools import islice, starmap
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aggregates.learner import Context, Learner, LearnerReference, learner_id
from ledger.bulk.gc_pause import BulkPass
from ledger.bulk.prefetch import Prefetch
from ledger.bulk.progress import NoProgress, Progress
from ledger.bulk.workers import (
    can_fork_workers,
    run_fed_shares,
    stream_shares,
    worker_count,
)
from ledger.imports.layouts import Header
from ledger.imports.planning import apply_row, column
from ledger.imports.problems import ImportRefused, RowError, RowProblem
from ledger.imports.rows import LearnerRow, ParsedRow, parse_row
from ledger.imports.source import CsvSource, Record, RecordSource
from ledger.imports.spool import BatchPlan, Event, PlanSpool, RecordBatch
from ledger.imports.tally import Tally
from ledger.imports.writing import (
    BatchWriter,
    StoredPlan,
    index_events,
    load_learners,
    load_references,
    new_learners,
)
from ledger.privacy.sealing import check_recordable
from ledger.rules.names import with_suggestion
from ledger.storage.persistence import checkpoint

if TYPE_CHECKING:
    from ledger.app import LedgerApp

DEFAULT_BATCH_SIZE = 2_000
CHECK_CACHE_SIZE = 5_000


@dataclass(frozen=True)
class ImportOptions:
    """How to import: who records, and whether to write, skip bad rows, batch size, layout."""

    actor: str
    dry_run: bool = False
    skip_invalid: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    layout: str = "auto"
    source_name: str | None = None
    workers: int | None = None  # processes checking and encoding; None: by the file's size
    known_bodies: tuple[str, ...] = ()  # AOs with rule sets: a near miss is suggested


@dataclass
class ImportSummary:
    """What an import did (or, on a dry run, would do)."""

    file: str
    layout: str = ""
    dry_run: bool = False
    rows: int = 0
    counts: Tally = field(default_factory=Tally)  # what the rows recorded, or would
    batches: int = 0
    skipped: list[RowProblem] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()

    @property
    def events(self) -> int:
        return self.counts.events

    @property
    def rows_unchanged(self) -> int:
        return self.counts.unchanged

    @property
    def learners_new(self) -> int:
        return self.counts.new

    @property
    def learners_updated(self) -> int:
        return self.counts.updated

    @property
    def warnings(self) -> int:
        return self.counts.warnings

    @property
    def rows_skipped(self) -> int:
        return len({problem.line for problem in self.skipped})


def chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def import_csv(app: LedgerApp, path: str | Path, options: ImportOptions,
               progress: Progress | None = None) -> ImportSummary:
    """Import a CSV file: refuse it whole if any row is bad (unless skip_invalid)."""
    source = CsvSource(Path(path), options.layout)
    return import_source(app, source, options.source_name or Path(path).name, options, progress)


def import_source(app: LedgerApp, source: RecordSource, name: str, options: ImportOptions,
                  progress: Progress | None = None, layout: str | None = None) -> ImportSummary:
    """Import the records of any source (a CSV file, an ILR file, an LRS output file): check
    them all, refuse the whole source if any is bad (unless skip_invalid), then write."""
    progress = progress or NoProgress()
    header = source.header()
    summary = ImportSummary(file=name, layout=layout or header.layout.name,
                            dry_run=options.dry_run, ignored_columns=header.ignored)
    today = date.today()
    if not options.dry_run:
        app.keys.master_for_writing()  # no master key: refuse now, not after the check
    workers = _workers(app, source, options)
    with ExitStack() as stack:
        spools = [] if options.dry_run else [stack.enter_context(PlanSpool())
                                              for _ in range(workers)]
        check = Check(app, source, header, options, name, today)
        problems, tally = check.run(workers, spools, progress)
        summary.rows = tally.rows
        if problems and not options.skip_invalid:
            lines = len({problem.line for problem in problems})
            rows = "row" if tally.rows == 1 else "rows"
            raise ImportRefused(
                f"{lines} of {tally.rows} {rows} in {name} {'is' if lines == 1 else 'are'} "
                "invalid; nothing was written "
                "(fix them, or use --skip-invalid to import the valid rows)", problems,
            )
        summary.skipped = list(problems)
        if spools and tally.events:  # else the check already counted it all
            bad_lines = {problem.line for problem in problems}
            tally = _write(app, source, header, options, name, today, bad_lines, progress,
                           summary, _stored_plans(app, spools))
            checkpoint(app.engine)
    summary.counts = tally
    return summary


def _workers(app: LedgerApp, source: RecordSource, options: ImportOptions) -> int:
    """Processes checking and encoding the rows: as asked, or by the file's size (one on a
    small file)."""
    if options.workers is None:
        return worker_count(app.engine, source.size // source.bytes_per_event)
    return options.workers if can_fork_workers(app.engine) else 1


def _guard(app: LedgerApp) -> Callable[[Learner], None]:
    """Refuse rows for learners the ledger cannot record on (erased, or sealed without key)."""
    return lambda learner: check_recordable(learner, app.keys)


def trial_copy(learner: Learner) -> Learner:
    """A copy to plan a row on, so a refused row leaves the learner untouched.

    The aggregate's methods only add to its lists and sets (facts, retractions, pending
    events) and replace its attributes; the facts themselves are frozen. So copying the
    containers one level deep is enough, and far cheaper than a deep copy.
    """
    trial = copy(learner)
    for name, value in vars(learner).items():
        if isinstance(value, list | set | dict):
            vars(trial)[name] = copy(value)
    return trial


def _context(options: ImportOptions, name: str, row: ParsedRow) -> Context:
    return Context(actor=options.actor, source=f"import {name}:{row.line}", note=row.note)


def _key(row: ParsedRow) -> UUID:
    return learner_id(row.centre, row.reference)


class Planner:
    """Applies rows to learners one at a time; a refused row leaves its learner untouched."""

    def __init__(self, options: ImportOptions, name: str, today: date,
                 guard: Callable[[Learner], None],
                 counted: OrderedDict[UUID, None] | None = None) -> None:
        self.options, self.name, self.today, self.guard = options, name, today, guard
        self.tally = Tally()
        self.touched: set[UUID] = set()
        # learners counted (new or updated) in earlier batches, the most recent
        # CHECK_CACHE_SIZE of them: a learner whose rows span batches is counted once
        self.counted: OrderedDict[UUID, None] = OrderedDict() if counted is None else counted
        self.first_rows: OrderedDict[UUID, tuple[int, dict[str, Any]]] = OrderedDict()

    def apply(self, learners: dict[UUID, Learner | None], row: ParsedRow) -> None:
        """Plan one row; RowError if the ledger's rules refuse it."""
        key = _key(row)
        if isinstance(row, LearnerRow):
            self._check_same_learner(key, row)
        before = learners.get(key)
        if before is not None:
            with column("learner"):
                self.guard(before)
        trial = trial_copy(before) if before is not None else None
        version = before.version if before is not None else 0
        after = apply_row(trial, row, _context(self.options, self.name, row), self.today, self.name)
        learners[key] = after
        if isinstance(row, LearnerRow) and key not in self.first_rows:
            self.first_rows[key] = (row.line, {**row.details, "uln": row.uln})
            while len(self.first_rows) > CHECK_CACHE_SIZE:
                self.first_rows.popitem(last=False)
        written = after.version - version
        self.tally.events += written
        if written == 0:
            self.tally.unchanged += 1
        if before is None:
            self.tally.new += 1
            self.tally.warnings += len(getattr(row, "warnings", ()))
            self.touched.add(key)
        elif written and key not in self.touched and key not in self.counted:
            self.touched.add(key)
            self.tally.updated += 1

    def _check_same_learner(self, key: UUID, row: LearnerRow) -> None:
        """Rows of one learner in one file must agree on the learner's details."""
        first = self.first_rows.get(key)
        if first is None:
            return
        line, details = first
        self.first_rows.move_to_end(key)
        for name, value in {**row.details, "uln": row.uln}.items():
            if value is not None and details.get(name) is not None and value != details[name]:
                raise RowError(name, f"{value!r} differs from {details[name]!r} on line {line} "
                                     f"for the same learner {row.reference}")

    def next_batch(self) -> None:
        """The batch is done: remember whom it counted, within bounds (memory stays flat)."""
        remember_counted(self.counted, self.touched)
        self.touched.clear()


def remember_counted(counted: OrderedDict[UUID, None], touched: Iterable[UUID]) -> None:
    """Add the learners a batch counted to those counted recently, keeping the most recent."""
    for key in touched:
        counted[key] = None
        counted.move_to_end(key)
    while len(counted) > CHECK_CACHE_SIZE:
        counted.popitem(last=False)


def _parse(batch: list[Record], header: Header, today: date,
           problems: list[RowProblem] | None, known_bodies: tuple[str, ...] = ()
           ) -> list[ParsedRow]:
    rows = []
    for record in batch:
        row, found = parse_row(record, header.layout, today)
        if row is not None:
            rows.append(row)
        elif problems is not None:
            problems.extend(_suggesting(found, record, known_bodies))
    return rows


def _suggesting(found: list[RowProblem], record: Record,
                known_bodies: tuple[str, ...]) -> list[RowProblem]:
    """The problems, a bad awarding body's offering the known body it may mean."""
    return [RowProblem(p.line, p.column, with_suggestion(p.reason, record.get(p.column),
                                                         known_bodies))
            if p.column == "awarding_body" and known_bodies else p for p in found]


def share_of(record: Record, shares: int) -> int:
    """The share of the learners a row falls in, by its learner reference: every row of a
    learner falls in the same share, and so does every learner using that reference (at
    any centre), so one share plans each reference's index."""
    return zlib.crc32(record.get("learner").encode()) % shares


@dataclass
class Check:
    """Pass 1: parse every row and plan it against the ledger, writing nothing.

    Each batch's plan (its new events) goes to a spool, for the write pass to save as it is
    if the learners have not moved on in the meantime. On a large file the learners are
    shared out over worker processes by learner reference: this process reads the file
    once, sending each share's records of each batch to that share's worker through a pipe
    as it reads them (the workers check while the file is still being read); each worker
    plans its own learners' rows (and their references' index) and writes its own plan
    spool; in the write pass a worker per share encodes that share's plans, and each
    batch's are stored together.
    """

    app: LedgerApp
    source: RecordSource
    header: Header
    options: ImportOptions
    name: str
    today: date

    def run(self, workers: int, spools: list[PlanSpool],
            progress: Progress) -> tuple[list[RowProblem], Tally]:
        """Every problem found (by line), and the counts of what the rows would record."""
        progress.start("Checking", self.source.size)
        if workers == 1:
            parts = [self.checked(0, self.batches(), spools, progress)]
        else:
            parts = run_fed_shares(
                lambda share, items, shown: self.checked(share, map(unshared, items), spools,
                                                         shown),
                self.shared(workers), workers, self.app.engine, progress,
                "an import check worker")
        problems: list[RowProblem] = []
        total = Tally()
        for found, tally in parts:
            problems.extend(found)
            total.add(tally)
        problems.sort()
        return problems, total

    def batches(self) -> Iterator[RecordBatch]:
        """The file's records, batch by batch, with how far each batch reaches."""
        seen = 0
        for batch in chunks(self.source.records(), self.options.batch_size):
            seen += len(batch)
            yield RecordBatch(batch, seen, self.source.bytes_read)

    def shared(self, count: int) -> Iterator[list[SharedBatch]]:
        """The file read once, each batch's records shared out by learner reference: for each
        batch, each share's records (maybe none, so every share keeps the file's batch
        numbering, which the write pass follows), sent to the share's worker as it is read."""
        for batch in self.batches():
            mine: list[list[tuple[Any, ...]]] = [[] for _ in range(count)]
            for record in batch.records:
                mine[share_of(record, count)].append(
                    (record.line, record.cells, record.extra, record.problems))
            yield [(batch.seen, batch.bytes_read, rows) for rows in mine]

    def checked(self, share: int, batches: Iterable[RecordBatch], spools: list[PlanSpool],
                progress: Progress) -> tuple[list[RowProblem], Tally]:
        """Check one share's batches, writing its plans to its spool (none on a dry run)."""
        spool = spools[share] if spools else None
        found = self.share(batches, spool, progress)
        if spool is not None:
            spool.flush()
        return found

    def share(self, batches: Iterable[RecordBatch], spool: PlanSpool | None,
              progress: Progress) -> tuple[list[RowProblem], Tally]:
        """Check the rows of one share of the learners, batch by batch."""
        app, options, today = self.app, self.options, self.today
        problems: list[RowProblem] = []
        planner = Planner(options, self.name, today, _guard(app))
        prepare = app.sealing_mapper.prepare
        total = Tally()
        known: OrderedDict[UUID, Learner | None] = OrderedDict()
        indexes: OrderedDict[str, LearnerReference] = OrderedDict()
        with BulkPass() as bulk:
            for batch in batches:
                mine = batch.records
                total.rows += len(mine)
                parsed = _parse(mine, self.header, today, problems, options.known_bodies)
                planner.tally = Tally()
                events = self._plan(planner, known, indexes, parsed, problems)
                if spool is not None:  # the write pass stamps them with the time they are stored
                    prepared = [prepare(event) for event in events]
                    spool.add(BatchPlan(len(mine), prepared, planner.tally, set(planner.touched)))
                planner.next_batch()
                total.add(planner.tally)
                progress.update(batch.bytes_read, batch.seen)
                bulk.step()
        return problems, total

    def _plan(self, planner: Planner, known: OrderedDict[UUID, Learner | None],
              indexes: OrderedDict[str, LearnerReference], parsed: list[ParsedRow],
              problems: list[RowProblem]) -> list[Event]:
        """Plan a batch's rows on the learners (read from the ledger unless known from
        earlier batches); the events planned, the reference index's included."""
        keys = list(dict.fromkeys(_key(row) for row in parsed))
        # not `set(keys) - known.keys()`: that walks the whole cache, hashing every UUID
        missing = {key for key in keys if key not in known}
        known.update(load_learners(self.app, missing))
        for row in parsed:
            known.move_to_end(_key(row))
            try:
                planner.apply(known, row)
            except RowError as error:
                problems.extend(error.problems(row.line))
        events = _new_events(known, keys)
        events += self._index(indexes, new_learners(events))
        for cache in (known, indexes):
            while len(cache) > CHECK_CACHE_SIZE:
                cache.popitem(last=False)
        self.app.keys.forget(missing)
        return events

    def _index(self, indexes: OrderedDict[str, LearnerReference],
               new: list[tuple[str, str]]) -> list[Event]:
        """The reference index's events for the batch's new learners (reference, centre),
        planned on from the versions the check read, as the learners' are."""
        references = {reference for reference, _ in new}
        indexes.update(load_references(self.app, {reference for reference in references
                                                  if reference not in indexes}))
        for reference in references:
            indexes.move_to_end(reference)
        return index_events(indexes, new)


SharedBatch = tuple[int, int, list[tuple[Any, ...]]]  # rows seen, bytes read, records as tuples


def unshared(shared: SharedBatch) -> RecordBatch:
    """A share's records of a batch as its worker received them (plain tuples pickle and
    unpickle without a Python call for each record)."""
    seen, bytes_read, rows = shared
    return RecordBatch(list(starmap(Record, rows)), seen, bytes_read)


def _new_events(known: dict[UUID, Learner | None], keys: Iterable[UUID]) -> list[Event]:
    """The events the batch planned for these learners (taken from them: the next batch
    plans on from their versions)."""
    events: list[Event] = []
    for key in keys:
        learner = known.get(key)
        if learner is not None:
            events.extend(learner.collect_events())
    return events


def _stored_plans(app: LedgerApp, spools: list[PlanSpool]) -> Iterator[StoredPlan]:
    """Each batch's plan encoded for storing; with a spool per share of the learners, each
    share's plans are encoded in a worker process of its own, in step."""
    writer = BatchWriter(app)

    def encode_share(share: int) -> Iterator[StoredPlan]:
        made: OrderedDict[UUID, bytes] = OrderedDict()  # keys made lately, maybe not stored
        with BulkPass() as bulk:
            for plan in spools[share].plans():
                yield writer.encode_plan(plan, made)
                bulk.step()

    if len(spools) == 1:
        yield from encode_share(0)
        return
    with closing(stream_shares(encode_share, len(spools), app.engine,
                               "an import write worker")) as steps:
        for parts in steps:
            plan = StoredPlan()
            for part in parts:
                plan.add(part)
            yield plan


def _write(app: LedgerApp, source: RecordSource, header: Header, options: ImportOptions,
           name: str, today: date, bad_lines: set[int], progress: Progress,
           summary: ImportSummary, plans: Iterator[StoredPlan]) -> Tally:
    """Pass 2: save each batch in one transaction, as the check planned it while that plan
    still holds; from the first batch whose learners moved on, plan each batch again against
    the ledger as it now is."""
    tally = Tally()
    writer = BatchWriter(app)
    counted: OrderedDict[UUID, None] = OrderedDict()
    progress.start("Importing", summary.rows)
    done = 0
    with BulkPass() as bulk:
        # closing stops any encoding workers as soon as a plan no longer holds; each next
        # plan is taken from them while the one before is committed
        with closing(plans), Prefetch(plans) as ahead:
            for plan in ahead:
                if not writer.write_stored(plan, committing=ahead.fetch_next):
                    break
                remember_counted(counted, plan.touched)
                tally.add(plan.counts)
                done += plan.rows
                summary.batches += 1
                progress.update(done, done)
                bulk.step()
            else:
                return tally
        for batch in islice(chunks(source.records(), options.batch_size), summary.batches, None):
            rows = _parse([r for r in batch if r.line not in bad_lines], header, today, None)
            planner, refused = writer.write(
                rows, lambda: Planner(options, name, today, _guard(app), counted))
            planner.next_batch()  # only the attempt that was saved counts its learners
            if refused and not options.skip_invalid:
                raise ImportRefused(
                    f"{len(refused)} {'row' if len(refused) == 1 else 'rows'} of {name} "
                    f"{'was' if len(refused) == 1 else 'were'} refused when written (the ledger "
                    f"changed during the import, or the rows conflict with rows far earlier in "
                    f"the file); earlier batches were written ({tally.events} events): fix the "
                    "rows and run the import again to finish", refused,
                )
            summary.skipped.extend(refused)
            tally.add(planner.tally)
            done += len(batch)
            summary.batches += 1
            progress.update(done, done)
            bulk.step()
    return tally
