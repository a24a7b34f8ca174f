"""The ledger application: commands that load a learner, change it and save its new events."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent, Transcoder
from sqlalchemy.engine import Engine

from aggregates.details import amended_age_warnings, parse_detail
from aggregates.errors import (
    ConcurrencyConflict,
    DuplicateLearner,
    ImpossibleCommand,
    InvalidValue,
    UnknownEvent,
    shown,
)
from aggregates.learner import Context, Learner, LearnerReference, learner_id
from aggregates.values import (
    AO_REFERENCE_MAX_LENGTH,
    check_age_at_start,
    check_programme_dates,
    normalise_code,
    parse_awarding_body,
    parse_centre,
    parse_date,
    parse_qualification,
    parse_reference,
    parse_text,
    parse_uln,
)
from ledger.integrity.ledger_id import ensure_ledger_id
from ledger.privacy.crypto import MasterKeySource
from ledger.privacy.keys import KeyStore
from ledger.privacy.sealing import SealingMapper, check_recordable
from ledger.reader import LearnerReading, unknown_learner
from ledger.storage.event_checks import install_event_checks
from ledger.storage.lazy_imports import defer_unused_dialects
from ledger.storage.persistence import (
    EVENTS_TABLE,
    application_env,
    configure_postgres,
    configure_sqlite,
    create_sqlite_file_privately,
    database_url,
    enter_sqlite_wal_mode,
    install_append_only_triggers,
    schema_lock,
)
from ledger.storage.raw_rows import aggregate_events
from ledger.storage.recorder_library import load_recorder_library
from ledger.storage.transcoding import LedgerTranscoder

if TYPE_CHECKING:  # the recorder's library (eventsourcing-sqlalchemy, the ORM) loads only
    # when an application opens: `LedgerReader` never needs it
    from eventsourcing.projection import ProjectionRunner

    from ledger.integrity.chained_recorder import ChainedApplicationRecorder
    from ledger.integrity.checkpoints import Checkpoint
    from ledger.reporting.reports import ReportsView

MAX_ATTEMPTS = 30
STAMP_COLUMNS = frozenset({"recorded_by", "recorded_at_us"})
MAX_POSITION = 2**63 - 1
DateLike = str | date


class Recorded(list[int]):
    """The positions of the events a command recorded, and any data-quality warnings."""

    def __init__(self, positions: Iterable[int] = ()) -> None:
        super().__init__(positions)
        self.warnings: list[dict[str, str]] = []


def as_date(value: DateLike, name: str) -> date:
    """A date from a date or an ISO / DD/MM/YYYY string."""
    return value if isinstance(value, date) else parse_date(value, name)


def past_date(value: DateLike, name: str) -> date:
    """A date on which something happened: today at the latest."""
    day = as_date(value, name)
    if day > date.today():
        raise InvalidValue(name, f"{day.isoformat()} is in the future")
    return day


def optional_date(value: DateLike | None, name: str) -> date | None:
    """A date that happened, or None when not given."""
    return None if value in (None, "") else past_date(value, name)  # type: ignore[arg-type]


class LedgerApp(LearnerReading, Application[UUID]):
    """The compliance ledger: every command records events on one learner's history."""

    name = "Ledger"

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.keys = KeyStore(lambda: self.engine, MasterKeySource.for_url(self.url))
        create_sqlite_file_privately(self.url)
        enter_sqlite_wal_mode(self.url)
        defer_unused_dialects(self.url)  # before the recorder's library names them
        load_recorder_library()  # before the recorder's module (PERSISTENCE_MODULE) loads it
        with schema_lock(self.url):
            super().__init__(env=application_env(self.url))
            configure_sqlite(self.engine)
            configure_postgres(self.engine)
            install_append_only_triggers(self.engine)
            install_event_checks(self.engine)
            self.keys.create_tables()
            self.ledger_id = ensure_ledger_id(self.engine)
        from ledger.integrity.checkpoints import AutoCheckpoints

        self.checkpoints = AutoCheckpoints.from_env(self.url)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save new events, then append a signed checkpoint if one is due."""
        recordings = super().save(*objs, **kwargs)
        if self.checkpoints.enabled and recordings:
            last = max(recording.notification.id for recording in recordings)
            self.checkpoints.after_recording(self, last)
        return recordings

    def checkpoint_after_import(self) -> Checkpoint | None:
        """After an import: a signed checkpoint of anything new, when a key is configured."""
        return self.checkpoints.after_recording(self, force=True)

    def construct_mapper(self) -> Mapper[UUID]:
        return SealingMapper(self.construct_transcoder(), self.keys)

    def construct_transcoder(self) -> Transcoder:
        return LedgerTranscoder()

    @property
    def engine(self) -> Engine:
        return self.recorder.datastore.engine  # type: ignore[attr-defined,no-any-return]

    @property
    def sealing_mapper(self) -> SealingMapper:
        """The application's mapper, which is always the sealing one."""
        return cast(SealingMapper, self.mapper)

    @property
    def chained_recorder(self) -> ChainedApplicationRecorder:
        """The application's recorder, which is always the hash-chaining one."""
        return cast("ChainedApplicationRecorder", self.recorder)

    # ----- finding learners -----------------------------------------------------------------

    def stored_events(self, originator_id: UUID) -> list[tuple[int, StoredEvent]]:
        return aggregate_events(self.engine, EVENTS_TABLE, originator_id)

    def find_learner(self, reference: str, centre: str | None = None) -> Learner:
        """The learner with that reference (at that centre, if given)."""
        if centre is None:
            centre = self._only_centre_of(reference)
        try:
            learner = self.repository.get(learner_id(centre, reference))
        except AggregateNotFoundError:
            raise unknown_learner(reference, centre) from None
        assert isinstance(learner, Learner)
        return learner

    def event_at(self, position: int) -> tuple[UUID, int]:
        """The learner id and version of the event at a global position."""
        if not 1 <= position <= MAX_POSITION:
            raise UnknownEvent(f"no event at position {position}")
        notifications = self.recorder.select_notifications(start=position, limit=1)
        if not notifications or notifications[0].id != position:
            raise UnknownEvent(f"no event at position {position}")
        notification = notifications[0]
        if notification.topic.split(":")[0] != Learner.__module__ or not (
            notification.topic.split(":")[1].startswith("Learner.")
        ):
            raise UnknownEvent(f"event {position} is not a learner event")
        return UUID(str(notification.originator_id)), notification.originator_version

    # ----- recording ------------------------------------------------------------------------

    def add_learner(
        self, ctx: Context, centre: str, reference: str, *, given_name: str, family_name: str,
        date_of_birth: str, gender: str, title: str = "", postcode: str = "", email: str = "",
        uln: str = "",
    ) -> list[int]:
        """Record a new learner at a centre; refuses a learner already recorded there."""
        centre, reference = parse_centre(centre), parse_reference(reference)
        texts = {
            "title": title, "given_name": given_name, "family_name": family_name,
            "date_of_birth": date_of_birth, "gender": gender, "postcode": postcode,
            "email": email,
        }
        details, warnings = {}, []
        for name, value in texts.items():
            details[name], found = parse_detail(name, value or "")
            warnings.extend(found)
        parsed_uln = parse_uln(uln)
        for _ in range(MAX_ATTEMPTS):
            if self._exists(learner_id(centre, reference)):
                raise DuplicateLearner(
                    f"learner {shown(reference)} is already recorded at {centre}")
            learner = Learner.record(
                centre, reference, details, parsed_uln, warnings, date.today(), ctx
            )
            index = self._reference_index(reference)
            index.add_centre(centre)
            try:
                return self._positions(self.save(learner, index))
            except IntegrityError:
                time.sleep(random.uniform(0, 0.01))
        raise ConcurrencyConflict(f"learner {shown(reference)} kept changing; try again")

    def enrol(
        self, ctx: Context, reference: str, enrolment: str, *, awarding_body: str,
        qualification: str, title: str, start: DateLike, planned_end: DateLike,
        apprenticeship: bool = False, units: Iterable[str] = (), centre: str | None = None,
    ) -> list[int]:
        """Enrol a learner on a qualification with an awarding body."""
        ref = parse_reference(enrolment, "enrolment")
        body, number = parse_awarding_body(awarding_body), parse_qualification(qualification)
        qualification_title = parse_text(title, "title")
        start_on = as_date(start, "start")
        end_on = as_date(planned_end, "planned_end")
        check_programme_dates(start_on, end_on, date.today())
        unit_list = [parse_text(unit, "units", 40) for unit in units if unit.strip()]

        def command(learner: Learner) -> None:
            born = learner.detail("date_of_birth")
            warnings = [w.as_dict() for w in check_age_at_start(born, start_on)]
            learner.enrol(ref, body, number, qualification_title, unit_list, start_on, end_on,
                          apprenticeship, warnings, ctx)

        return self._change(reference, centre, command)

    def record_uln(
        self, ctx: Context, reference: str, uln: str, on: DateLike | None = None,
        centre: str | None = None,
    ) -> list[int]:
        """Record the learner's ULN (9999999999, 'not known', is refused: it is no ULN)."""
        parsed = parse_uln(uln)
        if parsed is None:
            raise InvalidValue("uln", f"{uln.strip() or 'empty'!r} is not a ULN")
        day = optional_date(on, "on") or date.today()
        return self._change(reference, centre, lambda it: it.record_uln(parsed, day, ctx))

    def record_lrs_result(
        self, ctx: Context, reference: str, code: str, on: DateLike,
        flags: Iterable[str] = (), master_uln: str = "", centre: str | None = None,
    ) -> list[int]:
        """Record the LRS verification result for the learner's current ULN."""
        day = past_date(on, "on")
        flag_list = [f.strip().upper() for f in flags if f.strip()]
        master = parse_uln(master_uln, "master_uln")
        return self._change(
            reference, centre,
            lambda it: it.record_lrs_result(code.strip().upper(), flag_list, master, day, ctx),
        )

    def verify_id(
        self, ctx: Context, reference: str, document: str, on: DateLike,
        centre: str | None = None,
    ) -> list[int]:
        """Record that the learner's identity was checked against a document."""
        day = past_date(on, "on")
        return self._change(reference, centre, lambda it: it.verify_id(document, day, ctx))

    def register(
        self, ctx: Context, reference: str, enrolment: str, *, submitted: DateLike | None = None,
        confirmed: DateLike | None = None, ao_ref: str = "", rejected: DateLike | None = None,
        reason: str = "", checked: DateLike | None = None, centre: str | None = None,
    ) -> list[int]:
        """Record a registration submitted to the AO, then confirmed or rejected, and the
        check of its details for accuracy."""
        submitted_on = optional_date(submitted, "submitted")
        confirmed_on = optional_date(confirmed, "confirmed")
        rejected_on = optional_date(rejected, "rejected")
        checked_on = optional_date(checked, "checked")
        if confirmed_on and rejected_on:
            raise InvalidValue("rejected", "a registration is either confirmed or rejected")
        if not (submitted_on or confirmed_on or rejected_on or checked_on):
            raise InvalidValue("submitted",
                               "give --submitted, --confirmed, --rejected or --checked")
        if confirmed_on and not ao_ref.strip():
            raise InvalidValue("ao_ref", "a confirmed registration needs the AO's reference")
        if rejected_on and not reason.strip():
            raise InvalidValue("reason", "a rejected registration needs the AO's reason")
        ao_ref = parse_text(ao_ref, "ao_ref", AO_REFERENCE_MAX_LENGTH) if confirmed_on else ""
        reason = parse_text(reason, "reason") if rejected_on else ""

        def command(learner: Learner) -> None:
            state, fact = learner.registration(enrolment)
            already = state == "submitted" and fact is not None and (
                fact.occurred_on == submitted_on
            )
            if submitted_on and not already:
                learner.submit_registration(enrolment, submitted_on, ctx)
            if confirmed_on:
                learner.confirm_registration(enrolment, confirmed_on, ao_ref, ctx)
            if rejected_on:
                learner.reject_registration(enrolment, rejected_on, reason, ctx)
            if checked_on:
                learner.check_registration(enrolment, checked_on, ctx)

        return self._change(reference, centre, command)

    def amend(
        self, ctx: Context, reference: str, changes: dict[str, str], reason: str,
        on: DateLike | None = None, centre: str | None = None,
    ) -> list[int]:
        """Amend learner details; each changed field is one event."""
        why = parse_text(reason, "reason")
        if not changes:
            raise InvalidValue("set", "give at least one field=value")
        parsed = {name: parse_detail(name, value) for name, value in changes.items()}
        day = optional_date(on, "on") or date.today()

        def command(learner: Learner) -> None:
            for name, (value, warnings) in parsed.items():
                learner.amend(name, value, why, day, ctx,
                              warnings + amended_age_warnings(learner, name, value))

        return self._change(reference, centre, command)

    def start_assessment(
        self, ctx: Context, reference: str, enrolment: str, started: DateLike,
        centre: str | None = None,
    ) -> list[int]:
        """Record that formal assessment started."""
        day = past_date(started, "started")
        return self._change(reference, centre, lambda it: it.start_assessment(enrolment, day, ctx))

    def withdraw(
        self, ctx: Context, reference: str, enrolment: str, *, left: DateLike | None = None,
        reason: str = "", notified: DateLike | None = None, centre: str | None = None,
    ) -> list[int]:
        """Record a withdrawal (left date and reason), and/or its notification to the AO."""
        left_on = optional_date(left, "left")
        notified_on = optional_date(notified, "notified")
        if left_on is None and notified_on is None:
            raise InvalidValue("left", "give --left (with --reason) or --notified")
        if left_on is not None and not reason.strip():
            raise InvalidValue("reason", "a withdrawal needs a reason code")

        def command(learner: Learner) -> None:
            if left_on is not None:
                learner.withdraw(enrolment, left_on, normalise_code(reason), notified_on, ctx)
            elif notified_on is not None:
                learner.notify_withdrawal(enrolment, notified_on, ctx)

        return self._change(reference, centre, command)

    def sign_off_iqa(
        self, ctx: Context, reference: str, enrolment: str, signed_off: DateLike | None,
        centre: str | None = None, units_completed: DateLike | None = None,
    ) -> list[int]:
        """Record the units completed (the assessor's confirmation) and/or the IQA sign-off."""
        units_on = optional_date(units_completed, "units_completed")
        signed_on = optional_date(signed_off, "iqa_signed_off")
        if units_on is None and signed_on is None:
            raise InvalidValue("iqa_signed_off", "give --units-completed or --iqa-signed-off")

        def command(learner: Learner) -> None:
            if units_on is not None:
                learner.complete_units(enrolment, units_on, ctx)
            if signed_on is not None:
                learner.sign_off_iqa(enrolment, signed_on, ctx)

        return self._change(reference, centre, command)

    def eqa_sampling(
        self, ctx: Context, reference: str, enrolment: str, *,
        required: DateLike | None = None, sampled: DateLike | None = None,
        centre: str | None = None,
    ) -> list[int]:
        """Record that the AO's EQA asked to sample the enrolment and/or sampled it."""
        required_on = optional_date(required, "required")
        sampled_on = optional_date(sampled, "sampled")
        if required_on is None and sampled_on is None:
            raise InvalidValue("required", "give --required or --sampled")

        def command(learner: Learner) -> None:
            if required_on is not None:
                learner.require_eqa_sampling(enrolment, required_on, ctx)
            if sampled_on is not None:
                learner.record_eqa_sampled(enrolment, sampled_on, ctx)

        return self._change(reference, centre, command)

    def submit_claim(
        self, ctx: Context, reference: str, enrolment: str, claimed: DateLike,
        centre: str | None = None,
    ) -> list[int]:
        """Record a certificate claim submitted to the AO."""
        day = past_date(claimed, "claimed")
        return self._change(reference, centre, lambda it: it.submit_claim(enrolment, day, ctx))

    def certificate(
        self, ctx: Context, reference: str, enrolment: str, *,
        received: DateLike | None = None, issued: DateLike | None = None,
        collected: DateLike | None = None, centre: str | None = None,
    ) -> list[int]:
        """Record the certificate received from the AO, issued and collected."""
        steps = [
            (optional_date(received, "received"), "certificate-received", "receive_certificate"),
            (optional_date(issued, "issued"), "certificate-issued", "issue_certificate"),
            (optional_date(collected, "collected"), "certificate-collected",
             "collect_certificate"),
        ]
        if not any(day for day, _, _ in steps):
            raise InvalidValue("received", "give --received, --issued or --collected")

        def command(learner: Learner) -> None:
            for day, kind, method in steps:
                done = learner.latest(kind, enrolment)
                if day is not None and not (done and done.occurred_on == day):
                    getattr(learner, method)(enrolment, day, ctx)

        return self._change(reference, centre, command)

    def retract(self, ctx: Context, position: int, reason: str) -> list[int]:
        """Retract the event at a global position, giving a reason; the event itself stays."""
        why = parse_text(reason, "reason")
        originator, version = self.event_at(position)
        learner = self.repository.get(originator)
        assert isinstance(learner, Learner)
        try:
            return self._change(
                learner.reference, learner.centre,
                lambda it: it.retract(version, why, date.today(), ctx),
            )
        except ImpossibleCommand as error:
            raise ImpossibleCommand(f"event {position}: {error}") from None

    def record_view(self, ctx: Context, reference: str, centre: str, role: str,
                    page: str) -> list[int]:
        """Record that `ctx.actor` viewed the learner's personal data on a page (one event)."""
        return self._change(
            reference, centre, lambda it: it.record_view(role, page, date.today(), ctx))

    # ----- plumbing -------------------------------------------------------------------------

    def _change(
        self, reference: str, centre: str | None, command: Callable[[Learner], None]
    ) -> list[int]:
        """Load, command, save; on a concurrent write, reload and re-check the rules."""
        for _ in range(MAX_ATTEMPTS):
            learner = self.find_learner(reference, centre)
            check_recordable(learner, self.keys)
            command(learner)
            try:
                return self._positions(self.save(learner))
            except IntegrityError:
                time.sleep(random.uniform(0, 0.01))
        raise ConcurrencyConflict(f"learner {shown(reference)} kept changing; try again")

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _reference_index(self, reference: str) -> LearnerReference:
        try:
            index = self.repository.get(LearnerReference.create_id(reference))
        except AggregateNotFoundError:
            return LearnerReference.start(reference)
        assert isinstance(index, LearnerReference)
        return index

    @staticmethod
    def _positions(recordings: list[Any]) -> Recorded:
        """The positions of the learner events saved, with their data-quality warnings."""
        learner_recordings = [
            r for r in recordings
            if type(r.domain_event).__qualname__.startswith(f"{Learner.__qualname__}.")
        ]
        if not learner_recordings:
            raise ImpossibleCommand("nothing new to record")
        recorded = Recorded(r.notification.id for r in learner_recordings)
        for r in learner_recordings:
            recorded.warnings.extend(getattr(r.domain_event, "warnings", None) or [])
        return recorded


class FollowedLedger(LedgerApp):
    """The ledger application as a `ProjectionRunner` constructs it: from an environment."""

    name = LedgerApp.name

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__((env or {}).get("SQLALCHEMY_URL"))


def follow_reports(url: str) -> ProjectionRunner[FollowedLedger, ReportsView]:
    """A library `ProjectionRunner` keeping the report tables current as events are recorded.

    It subscribes to the notification log with PostgreSQL LISTEN/NOTIFY, so it runs as its
    own process next to many `ledger` clients (use it as a context manager).
    """
    from eventsourcing.projection import ProjectionRunner

    from ledger.reporting.reports import ReportsProjection, ReportsView

    env = {**application_env(url), "CREATE_TABLE": "yes"}
    return ProjectionRunner(application_class=FollowedLedger,
                            projection_class=ReportsProjection, view_class=ReportsView,
                            env=env)
