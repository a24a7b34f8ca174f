"""`ledger lrs request` and `ledger lrs results`: which learners the LRS is asked about, the
request files written for them, and the output file imported as ULN results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from aggregates.learner import LRS_FIELDS, Learner
from ledger.bulk.progress import Progress
from ledger.imports.lrs import (
    LEARNER_COLUMNS,
    OUTPUT_COLUMNS,
    LookupLearner,
    LrsException,
    LrsOutputSource,
    batch_sizes,
    file_name,
    learner_cells,
    request_text,
)
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.imports.runner import ImportOptions, ImportSummary, import_source
from ledger.imports.writing import load_learners
from ledger.reporting.reports import current_timelines

if TYPE_CHECKING:
    from ledger.app import LedgerApp

LOAD_CHUNK = 1_000
FILE_COLUMNS = frozenset(LEARNER_COLUMNS + OUTPUT_COLUMNS)


def lookup_reason(learner: Learner) -> str | None:
    """Why the LRS should be asked about the learner, or None if it need not be."""
    if learner.latest("erased") is not None:
        return None
    uln, status = learner.uln_status()
    if uln is None:
        return "ULN rejected by the LRS" if status == "rejected" else "no ULN"
    facts = learner.live_facts()
    checked = next((i for i in range(len(facts) - 1, -1, -1)
                    if facts[i].kind == "lrs-result"), None)
    if checked is None:
        return "ULN not yet verified"
    if any(f.kind == "amended" and f.values["field"] in LRS_FIELDS for f in facts[checked:]):
        return "LRS-checked details changed since the last verification"
    return None


def learners_to_look_up(app: LedgerApp, centre: str | None) -> dict[str, list[LookupLearner]]:
    """By centre, the learners with no ULN or whose LRS fields changed since verification."""
    timelines, _ = current_timelines(app, centre)
    ids = [UUID(str(t["learner_id"])) for t in timelines]
    found: dict[str, list[LookupLearner]] = {}
    for start in range(0, len(ids), LOAD_CHUNK):
        learners = load_learners(app, ids[start:start + LOAD_CHUNK])
        for learner in learners.values():
            if learner is None:
                continue
            reason = lookup_reason(learner)
            if reason is not None:
                found.setdefault(learner.centre, []).append(LookupLearner(
                    learner.reference, learner.uln, learner.details, reason))
        app.keys.forget(learners)
    for listed in found.values():
        listed.sort(key=lambda learner: learner.reference)
    return found


@dataclass
class RequestResult:
    """What `ledger lrs request` wrote, and whom it left for the portal's single look-up."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    single: dict[str, list[LookupLearner]] = field(default_factory=dict)


def write_requests(app: LedgerApp, out: Path, centre: str | None, ukprn: str | None,
                   moment: datetime) -> RequestResult:
    """Request files of 50 to 5,000 learners a centre; a file already in `out` with the same
    learners is not written again."""
    out.mkdir(parents=True, exist_ok=True)
    existing = {_learner_rows(path.read_text(encoding="utf-8")): path
                for path in sorted(out.glob("LRB_*.CSV"))}
    result = RequestResult()
    for at_centre, learners in sorted(learners_to_look_up(app, centre).items()):
        sizes = batch_sizes(len(learners))
        if not sizes:
            result.single[at_centre] = learners
            continue
        number = ukprn or at_centre
        start = 0
        for index, size in enumerate(sizes):
            part = learners[start:start + size]
            start += size
            name = file_name(number, moment + timedelta(minutes=index))  # names are unique
            text = request_text(name, number, part)
            same = existing.get(_learner_rows(text))
            if same is not None:
                result.unchanged.append(same)
                continue
            path = out / name
            path.write_text(text, encoding="utf-8", newline="")
            result.written.append(path)
    return result


def _learner_rows(text: str) -> tuple[tuple[str, ...], ...]:
    """A request file's learner cells (not its file header, which names the file)."""
    return tuple(learner_cells(text))


@dataclass
class ResultsSummary:
    """What importing an LRS output file did: the import, and the exceptions listed."""

    summary: ImportSummary
    exceptions: list[LrsException]
    learners: int  # learner rows in the file

    @property
    def answered(self) -> int:
        """Learners whose ULN the LRS found or created (each a ULN and a match, or already
        recorded)."""
        return self.learners - len(self.exceptions) - self.summary.rows_skipped


def said_once(problems: list[RowProblem]) -> list[RowProblem]:
    """The problems, without the event row's own complaint where the file's column (ULN,
    Return_Code) already says what is wrong on that line."""
    named = {p.line for p in problems if p.column in FILE_COLUMNS}
    return [p for p in problems if p.column in FILE_COLUMNS or p.line not in named]


def import_results(app: LedgerApp, path: Path, centre: str | None, on: date | None,
                   options: ImportOptions, progress: Progress | None = None) -> ResultsSummary:
    """Record each ULN found or created, with a successful match; list each exception."""
    source = LrsOutputSource(path, centre, on)
    one_process = ImportOptions(actor=options.actor, dry_run=options.dry_run,
                                skip_invalid=options.skip_invalid, workers=1,
                                source_name=options.source_name)
    try:
        summary = import_source(app, source, options.source_name or path.name, one_process,
                                progress, layout="LRS batch output")
    except ImportRefused as refused:
        raise ImportRefused(str(refused), said_once(refused.problems)) from None
    summary.skipped = said_once(summary.skipped)
    return ResultsSummary(summary, list(source.exceptions), source.learners)
