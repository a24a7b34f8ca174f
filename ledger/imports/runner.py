"""The import run: check every row against the ledger first, then write batch by batch."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from copy import copy
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.learner import Context, Learner, learner_id
from ledger.app import LedgerApp
from ledger.gc_pause import cyclic_gc_paused
from ledger.imports.layouts import Header
from ledger.imports.planning import apply_row, column
from ledger.imports.problems import ImportRefused, RowError, RowProblem
from ledger.imports.rows import LearnerRow, ParsedRow, parse_row
from ledger.imports.source import CsvSource, Record
from ledger.imports.spool import BatchPlan, Event, PlanSpool
from ledger.imports.writing import BatchWriter, load_learners
from ledger.progress import NoProgress, Progress
from ledger.sealing import check_recordable

DEFAULT_BATCH_SIZE = 500
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


@dataclass
class ImportSummary:
    """What an import did (or, on a dry run, would do)."""

    file: str
    layout: str = ""
    dry_run: bool = False
    rows: int = 0
    rows_unchanged: int = 0
    learners_new: int = 0
    learners_updated: int = 0
    events: int = 0
    batches: int = 0
    warnings: int = 0
    skipped: list[RowProblem] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()

    @property
    def rows_skipped(self) -> int:
        return len({problem.line for problem in self.skipped})


@dataclass
class Tally:
    """Counts kept while planning rows."""

    rows: int = 0
    unchanged: int = 0
    events: int = 0
    new: int = 0
    updated: int = 0
    warnings: int = 0

    def add(self, other: Tally) -> None:
        for name in ("rows", "unchanged", "events", "new", "updated", "warnings"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def import_csv(app: LedgerApp, path: str | Path, options: ImportOptions,
               progress: Progress | None = None) -> ImportSummary:
    """Import a CSV file: refuse it whole if any row is bad (unless skip_invalid)."""
    progress = progress or NoProgress()
    source = CsvSource(Path(path), options.layout)
    header = source.header()
    name = options.source_name or Path(path).name
    summary = ImportSummary(file=name, layout=header.layout.name, dry_run=options.dry_run,
                            ignored_columns=header.ignored)
    today = date.today()
    if not options.dry_run:
        app.keys.master_for_writing()  # no master key: refuse now, not after the check
    with nullcontext() if options.dry_run else PlanSpool() as spool:
        problems, tally = _check(app, source, header, options, name, today, progress, spool)
        summary.rows = tally.rows
        if problems and not options.skip_invalid:
            lines = len({problem.line for problem in problems})
            raise ImportRefused(
                f"{lines} of {tally.rows} row(s) in {name} are invalid; nothing was written "
                "(fix them, or use --skip-invalid to import the valid rows)", problems,
            )
        summary.skipped = list(problems)
        if spool is not None and tally.events:  # else the check already counted it all
            bad_lines = {problem.line for problem in problems}
            tally = _write(app, source, header, options, name, today, bad_lines, progress,
                           summary, spool)
    _fill(summary, tally)
    return summary


def _fill(summary: ImportSummary, tally: Tally) -> None:
    summary.rows_unchanged = tally.unchanged
    summary.events = tally.events
    summary.learners_new = tally.new
    summary.learners_updated = tally.updated
    summary.warnings = tally.warnings


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
           problems: list[RowProblem] | None) -> list[ParsedRow]:
    rows = []
    for record in batch:
        row, found = parse_row(record, header.layout, today)
        if row is not None:
            rows.append(row)
        elif problems is not None:
            problems.extend(found)
    return rows


def _check(app: LedgerApp, source: CsvSource, header: Header, options: ImportOptions,
           name: str, today: date, progress: Progress,
           spool: PlanSpool | None) -> tuple[list[RowProblem], Tally]:
    """Pass 1: parse every row and plan it against the ledger, writing nothing.

    Each batch's plan (its new events) goes to the spool, for the write pass to save as it
    is if the learners have not moved on in the meantime.
    """
    problems: list[RowProblem] = []
    planner = Planner(options, name, today, _guard(app))
    total = Tally()
    known: OrderedDict[UUID, Learner | None] = OrderedDict()
    progress.start("Checking", source.size)
    rows = 0
    for batch in chunks(source.records(), options.batch_size):
        rows += len(batch)
        parsed = _parse(batch, header, today, problems)
        keys = list(dict.fromkeys(_key(row) for row in parsed))
        missing = set(keys) - known.keys()
        planner.tally = Tally()
        with cyclic_gc_paused():
            known.update(load_learners(app, missing))
            for row in parsed:
                known.move_to_end(_key(row))
                try:
                    planner.apply(known, row)
                except RowError as error:
                    problems.extend(error.problems(row.line))
            if spool is not None:
                spool.add(BatchPlan(len(batch), _new_events(known, keys), planner.tally,
                                    set(planner.touched)))
        while len(known) > CHECK_CACHE_SIZE:
            known.popitem(last=False)
        app.keys.forget(missing)
        planner.next_batch()
        total.add(planner.tally)
        progress.update(source.bytes_read, rows)
    problems.sort()
    total.rows = rows
    return problems, total


def _new_events(known: dict[UUID, Learner | None], keys: Iterable[UUID]) -> list[Event]:
    """The events the batch planned for these learners (taken from them: the next batch
    plans on from their versions)."""
    events: list[Event] = []
    for key in keys:
        learner = known.get(key)
        if learner is not None:
            events.extend(learner.collect_events())
    return events


def _write(app: LedgerApp, source: CsvSource, header: Header, options: ImportOptions,
           name: str, today: date, bad_lines: set[int], progress: Progress,
           summary: ImportSummary, spool: PlanSpool) -> Tally:
    """Pass 2: save each batch in one transaction, as the check planned it while that plan
    still holds; from the first batch whose learners moved on, plan each batch again against
    the ledger as it now is."""
    tally = Tally()
    writer = BatchWriter(app)
    counted: OrderedDict[UUID, None] = OrderedDict()
    progress.start("Importing", summary.rows)
    done = 0
    batches: Iterator[list[Record]] | None = None  # the file is read again only to plan again
    for plan in spool.plans():
        if batches is None:
            with cyclic_gc_paused():
                saved = writer.write_planned(plan.events)
            if saved:
                remember_counted(counted, plan.touched)
                tally.add(plan.counts)
                done += plan.rows
                summary.batches += 1
                progress.update(done, done)
                continue
            batches = islice(chunks(source.records(), options.batch_size), summary.batches,
                             None)
        batch = next(batches)
        rows = _parse([r for r in batch if r.line not in bad_lines], header, today, None)
        with cyclic_gc_paused():
            planner, refused = writer.write(
                rows, lambda: Planner(options, name, today, _guard(app), counted))
        planner.next_batch()  # only the attempt that was saved counts its learners
        if refused and not options.skip_invalid:
            raise ImportRefused(
                f"{len(refused)} row(s) of {name} were refused when written (the ledger changed "
                f"during the import, or the rows conflict with rows far earlier in the file); "
                f"earlier batches were written ({tally.events} events): fix the rows and run "
                "the import again to finish", refused,
            )
        summary.skipped.extend(refused)
        tally.add(planner.tally)
        done += len(batch)
        summary.batches += 1
        progress.update(done, done)
    return tally
