"""What the pages read: a live ledger (SQLite or PostgreSQL) or a verified EQA bundle."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from eventsourcing.persistence import StoredEvent
from sqlalchemy import select

from aggregates.errors import UnknownLearner
from aggregates.learner import learner_id
from ledger.app import LedgerApp
from ledger.bulk.progress import NoProgress, Progress
from ledger.integrity.bundle import verify_bundle
from ledger.integrity.chain import Digest
from ledger.integrity.checkpoints import (
    Checkpoint,
    Countersignature,
    latest_checkpoint,
    read_log,
)
from ledger.integrity.stamps import stamps_of
from ledger.integrity.verify import PAGE_SIZE as VERIFY_PAGE
from ledger.integrity.verify import Verification, digest_at, verify_ledger
from ledger.privacy.sealing import SealingMapper
from ledger.reporting.as_at import timelines_as_recorded
from ledger.reporting.plain_events import entries_of_rows
from ledger.reporting.rebuild import catch_up_all
from ledger.reporting.report_queries import KeptReport
from ledger.reporting.report_rows import kept_centres, may_write_rows, refresh_rows
from ledger.reporting.reports import current_timelines, fold, may_write_reports, open_view
from ledger.rules.rulesets import RuleBook, load_rulebook
from ledger.storage.persistence import is_sqlite_in_memory
from ledger.storage.transcoding import LedgerTranscoder
from projections.late_registrations import RegistrationRow, Unjudged
from projections.maladministration import Finding
from projections.timeline import Timeline

Events = list[tuple[int, Any]]


@dataclass(frozen=True)
class Snapshot:
    """The timelines a report reads, and the digest of the ledger behind them."""

    timelines: list[Timeline]
    digest: Digest
    position: int


@dataclass(frozen=True)
class KeptReports:
    """The reports as the kept report rows give them (`ledger report`'s own reading)."""

    rows: list[RegistrationRow]
    unjudged: list[Unjudged]
    findings: list[Finding]
    digest: Digest
    position: int
    centres: list[str]


@dataclass(frozen=True)
class CheckpointShown:
    """The latest signed checkpoint as the dashboard shows it: where, when, by which key,
    whether it still holds against the ledger, and which EQA keys countersigned it."""

    position: int
    events: int
    recorded_at: str
    signed_by: str  # the centre key's id
    signature_holds: bool
    holds: bool | None  # the chain entry at its position is the signed one (None: not known)
    countersigned_by: tuple[str, ...] | None  # EQA key ids (None: not known here)
    where: str  # the log (or the bundle) it was read from
    checkpoints: int = 1  # checkpoints in the log

    @property
    def countersigned(self) -> bool:
        return bool(self.countersigned_by)

    @property
    def countersignatures_known(self) -> bool:
        return self.countersigned_by is not None


@dataclass(frozen=True)
class CheckpointsShown:
    """What the dashboard says about checkpoints: the latest, or why there is none."""

    latest: CheckpointShown | None
    note: str


class Source(Protocol):
    """What the web pages read; both sources answer the same questions."""

    label: str
    personal_data: bool  # can it show personal data at all (a bundle cannot: no keys)

    def snapshot(self, as_at: datetime | None, centre: str | None) -> Snapshot: ...

    def kept_reports(self, book: RuleBook, on: date, awarding_body: str | None,
                     centre: str | None,
                     release: Callable[[], None] | None = None) -> KeptReports | None:
        """The reports judged on `on` from the kept report rows (refreshed first), or None
        when this source has none (a bundle) or may not bring them up to date. A source
        that judges them in a process of its own calls `release` once they are judged,
        before it loads them (the caller lets go of the judgement they replace)."""
        ...

    def learner_events(self, reference: str, centre: str | None,
                       open_personal: bool) -> tuple[str, Events]: ...

    def head(self) -> int: ...

    def checkpoints(self) -> CheckpointsShown:
        """The latest signed checkpoint (read from the log: no chain check)."""
        ...

    def stamps(self, positions: list[int]) -> dict[int, Any]:
        """Who recorded each event and when, as the chain stamped them (none: unstamped)."""
        ...


ROW_SHARED = ("learner", "enrolment", "awarding_body", "programme_start", "deadline",
              "submitted", "status", "rule", "centre", "rule_version", "clause", "left")
FINDING_SHARED = ("rule", "awarding_body", "rule_version", "clause", "severity", "centre",
                  "learner", "enrolment", "message", "citation", "due_after")


class Shared:
    """One object for each distinct value of a judgement's rows and findings. Each row read
    from the database brings its own copy of every string and date: at 100,000 learners,
    107,803 rows and 106,332 findings held 114 MB of strings and 34 MB of dates, most of
    them equal (a rule's clause, a centre, a status, a deadline). The rows are frozen
    dataclasses, never changed after they are made, so their fields can share one object."""

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}

    def row(self, row: RegistrationRow) -> RegistrationRow:
        return self._share(row, ROW_SHARED)

    def finding(self, found: Finding) -> Finding:
        found = self._share(found, FINDING_SHARED)
        values = self._values
        key = ("dates", *((values.setdefault(name, name), values.setdefault(value, value))
                          for name, value in found.dates.items()))
        dates = values.get(key)
        if dates is None:
            dates = values[key] = dict(key[1:])
        object.__setattr__(found, "dates", dates)
        if not found.extra:  # one empty dict for all
            object.__setattr__(found, "extra", values.setdefault("extra", found.extra))
        return found

    def _share(self, item: Any, names: tuple[str, ...]) -> Any:
        values = self._values
        for name in names:
            value = getattr(item, name)
            object.__setattr__(item, name, values.setdefault(value, value))
        return item


class LedgerSource:
    """A live ledger, read through the functions the CLI uses."""

    personal_data = True

    def __init__(self, app: LedgerApp, verify_page: int = VERIFY_PAGE,
                 judge_apart: bool = False) -> None:
        self.app = app
        self.verify_page = verify_page  # positions per read of the chain check (and report)
        self.judge_apart = judge_apart  # the reports judged in a process of their own (a server)
        self.label = app.engine.url.render_as_string(hide_password=True)

    def snapshot(self, as_at: datetime | None, centre: str | None) -> Snapshot:
        if as_at is not None:
            found = timelines_as_recorded(self.app, as_at, centre)
            position = max((t["position"] for t in found), default=0)
        else:
            found, position = current_timelines(self.app, centre)
        return Snapshot(found, digest_at(self.app, position), position)

    def kept_reports(self, book: RuleBook, on: date, awarding_body: str | None,
                     centre: str | None,
                     release: Callable[[], None] | None = None) -> KeptReports | None:
        app = self.app
        if self.judge_apart and not is_sqlite_in_memory(app.engine):  # ledger/web/apart.py
            from ledger.web.apart import kept_reports_apart

            return kept_reports_apart(app.engine.url.render_as_string(hide_password=False),
                                      book, on, awarding_body, centre, release)
        if not may_write_reports(app) or not may_write_rows(app):
            return None
        catch_up_all(app, open_view(app))
        refresh_rows(app, book)
        report = KeptReport(app, book, on, awarding_body, centre)
        position = report.position()
        shared = Shared()
        return KeptReports([shared.row(row) for row in report.registrations()],
                           report.unjudged(),
                           [shared.finding(found) for found in report.findings()],
                           digest_at(app, position), position, kept_centres(app, centre))

    def stamps(self, positions: list[int]) -> dict[int, Any]:
        return stamps_of(self.app, positions)

    def learner_events(self, reference: str, centre: str | None,
                       open_personal: bool) -> tuple[str, Events]:
        if open_personal:
            return self.app.learner_history(reference, centre)
        if centre is None:
            centre = self.app._only_centre_of(reference)  # the centre, nothing decrypted
        record = self.app.recorder.events_record_cls  # type: ignore[attr-defined]
        query = (select(record.id, record.originator_id, record.originator_version,
                        record.topic, record.state)
                 .where(record.originator_id == learner_id(centre, reference))
                 .order_by(record.originator_version))
        with self.app.engine.connect() as connection:
            rows = connection.execute(query).all()
        if not rows:
            raise UnknownLearner(f"no learner {reference!r} at centre {centre}")
        mapper = self.app.sealing_mapper
        return centre, [(row.id, mapper.to_domain_event(StoredEvent(
            originator_id=row.originator_id, originator_version=row.originator_version,
            topic=row.topic, state=bytes(row.state)), open_personal=False)) for row in rows]

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def forget_keys(self) -> None:
        """Drop every learner key the app holds: a server keeps none between pages. (The key
        store reads every key row at once after a few learners, right for a command that
        reads many, but in a server that has shown a few learner pages it held 100,000
        learners' keys: about 300 MB, and every key in memory.)"""
        self.app.keys.forget_all()

    def verify(self, progress: Progress | None = None) -> Verification:
        return verify_ledger(self.app, page=self.verify_page, progress=progress)

    def checkpoints(self) -> CheckpointsShown:
        """The log's latest checkpoint, its signature and countersignatures checked and its
        hash compared with the chain entry at its position (one query); CheckpointBroken
        when the log cannot be read."""
        path = self.app.checkpoints.log
        if path is None:
            return CheckpointsShown(None, "No checkpoint log is configured for this ledger "
                                          "(LEDGER_CHECKPOINT_LOG).")
        entries = read_log(path)
        latest = latest_checkpoint(entries)
        if latest is None:
            return CheckpointsShown(None, f"No checkpoint in {path} yet (`ledger checkpoint`).")
        entry = digest_at(self.app, latest.position)
        holds = (entry.position, entry.hash, entry.events) == (
            latest.position, latest.hash, latest.events)
        witnesses = tuple(dict.fromkeys(
            item.key_id for _, item in entries
            if isinstance(item, Countersignature) and item.checkpoint == latest.fingerprint
            and item.holds_for(latest)))
        count = sum(1 for _, item in entries if isinstance(item, Checkpoint))
        return CheckpointsShown(CheckpointShown(
            latest.position, latest.events, latest.recorded_at, latest.key_id, latest.signed,
            holds, witnesses, str(path), count), "")


class BundleSource:
    """An EQA bundle, verified when opened; no database, no keys, so no personal data."""

    personal_data = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.summary = verify_bundle(path)  # BadBundle if it was tampered with
        self.opened = datetime.now(UTC)
        self.verify_result = Verification(self.summary.events, self.summary.digest)
        self.label = f"bundle {path.name} (centre {self.summary.centre})"
        self.rows: list[tuple[int, str, int, str, str]] = []
        self.rule_sets: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item.get("type") == "rule-set":
                self.rule_sets[Path(str(item["name"])).name] = str(item["text"])
            if item.get("type") == "event" and "state" in item:
                self.rows.append((item["position"], item["aggregate_id"], item["version"],
                                  item["topic"], item["state"]))
        learner_rows = [r for r in self.rows if learner_event(r[3])]
        self.timelines = fold({}, entries_of_rows(learner_rows))
        self.mapper = SealingMapper(LedgerTranscoder(), None)  # type: ignore[arg-type]

    def kept_reports(self, book: RuleBook, on: date, awarding_body: str | None,
                     centre: str | None,
                     release: Callable[[], None] | None = None) -> KeptReports | None:
        return None  # a bundle's timelines are judged in memory

    def snapshot(self, as_at: datetime | None, centre: str | None) -> Snapshot:
        if as_at is None:
            found = list(self.timelines.values())
        else:
            entries = [e for e in entries_of_rows(r for r in self.rows if learner_event(r[3]))
                       if datetime.fromisoformat(e.state["timestamp"]) <= as_at]
            found = list(fold({}, entries).values())
        found = sorted((t for t in found if centre is None or t["centre"] == centre),
                       key=lambda t: t["learner_id"])
        digest = self.summary.digest
        return Snapshot(found, digest, digest.position)

    def stamps(self, positions: list[int]) -> dict[int, Any]:
        return {}  # the bundle's chain lines carry them, but the pages do not read them yet

    def learner_events(self, reference: str, centre: str | None,
                       open_personal: bool) -> tuple[str, Events]:
        centre = centre or self.summary.centre
        wanted = str(learner_id(centre, reference))
        events = [(row[0], self.mapper.to_domain_event(StoredEvent(
            originator_id=row[1], originator_version=row[2], topic=row[3],
            state=row[4].encode()), open_personal=False))
            for row in self.rows if row[1] == wanted and learner_event(row[3])]
        if not events:
            raise UnknownLearner(f"no learner {reference!r} in this bundle")
        return centre, events

    def head(self) -> int:
        return self.summary.digest.position

    def rulebook(self, nation: str | None = None) -> RuleBook:
        """The rule sets the bundle carries (they replace the shipped ones of their AO)."""
        with tempfile.TemporaryDirectory() as folder:
            for name, text in self.rule_sets.items():
                (Path(folder) / name).write_text(text, encoding="utf-8")
            return load_rulebook(folder, nation)

    def checkpoints(self) -> CheckpointsShown:
        """The checkpoint the bundle carries (checked as the bundle was opened)."""
        signed = self.summary.checkpoint
        if signed is None:
            return CheckpointsShown(None, "This bundle carries no signed checkpoint.")
        return CheckpointsShown(CheckpointShown(
            signed.position, signed.events, signed.recorded_at, signed.key_id, signed.signed,
            None, None, f"this bundle: {self.summary.checkpoint_note}"), "")

    def verify(self, progress: Progress | None = None) -> Verification:
        progress = progress or NoProgress()
        progress.start("Verifying", self.head())
        summary = verify_bundle(self.path)
        progress.update(summary.digest.position, summary.events)
        return Verification(summary.events, summary.digest)


def learner_event(topic: str) -> bool:
    """True for the Learner aggregate's events (not the reference index's)."""
    return topic.startswith("aggregates.learner:Learner.")
