"""A learner's timeline: the fold of their events into live facts, honouring retractions."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from projections.audit import COMMON_ATTRIBUTES, event_name

LEARNER_MODULE = "aggregates.learner"
Timeline = dict[str, Any]
Fact = dict[str, Any]
# The access log (who viewed the learner's personal data) says nothing about the learner's
# programme: the reports never read it, so their timelines do not keep it.
NOT_FOLDED = frozenset({"PersonalDataViewed"})


def is_learner_event(event: Any) -> bool:
    """True for the Learner aggregate's events (not the LearnerReference index's)."""
    cls = type(event)
    return cls.__module__ == LEARNER_MODULE and cls.__qualname__.startswith("Learner.")


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Dates as ISO text, tuples as lists: a value that survives a JSON round trip."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    return value


class Entry(NamedTuple):
    """One learner event as the fold reads it: its place, its class name and its attributes.

    Attribute values are plain JSON values (dates as ISO text), as decoded straight from the
    stored state; personal values need only be present, never readable.
    """

    position: int
    learner_id: str
    version: int
    name: str
    state: dict[str, Any]


def entry_of_event(position: int, event: Any) -> Entry:
    """A learner domain event as the fold reads it."""
    state = {key: value if type(value) in _PLAIN else jsonable(value)
             for key, value in vars(event).items()}
    return Entry(position, str(event.originator_id), event.originator_version,
                 event_name(event), state)


@lru_cache(maxsize=256)  # asked for every event folded; an event class's attributes vary little
def _kept(name: str, attributes: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Of an event's attributes, those its fact keeps as they are (no personal data, none of
    the attributes every event has) and the ULNs it keeps only as a flag that one was given.
    (The aggregate is imported here, when an event is folded: a report that reads kept rows
    and judges a few timelines does not load it.)"""
    from aggregates.learner import personal_attributes

    personal = personal_attributes(name)
    kept = tuple(key for key in attributes
                 if key not in personal and key not in COMMON_ATTRIBUTES and key[0] != "_")
    flags = tuple(key for key in ("uln", "master_uln") if key in personal and key in attributes)
    return kept, flags


def _impersonal_values(name: str, state: dict[str, Any]) -> dict[str, Any]:
    """The event's values without personal data: reports need no names, dates of birth or
    notes, so none reach the materialised tables. A ULN becomes a flag that one was given;
    a data-quality warning keeps its code and field, not the message quoting the value."""
    kept, flags = _kept(name, tuple(state))
    values = {key: state[key] for key in kept}
    for key in flags:
        values[key] = state[key] is not None
    if "warnings" in values:
        values["warnings"] = [
            {"code": w["code"], "field": w["field"]} for w in values["warnings"] or []
        ]
    return values


def new_timeline(learner_id: str) -> Timeline:
    """An empty timeline for a learner (filled by their Recorded event)."""
    return {"learner_id": learner_id, "centre": None, "reference": None, "position": 0,
            "facts": []}


def apply_entry(timeline: Timeline, entry: Entry) -> Timeline:
    """Add one event's fact to the timeline; a retraction removes the fact it retracts."""
    name, state, position = entry.name, entry.state, entry.position
    if position > timeline["position"]:
        timeline["position"] = position
    if name in NOT_FOLDED:
        return timeline
    if name == "Retracted":
        version = state["retracted_version"]
        timeline["facts"] = [f for f in timeline["facts"] if f["version"] != version]
        return timeline
    values = _impersonal_values(name, state)
    if name == "Recorded":
        timeline["centre"], timeline["reference"] = state["centre"], state["reference"]
    timeline["facts"].append({
        "position": position,
        "version": entry.version,
        "event": name,
        "occurred_on": state["occurred_on"],
        "recorded": state["timestamp"],
        "enrolment": state.get("enrolment"),
        "values": values,
    })
    return timeline


def apply_event(timeline: Timeline, position: int, event: Any) -> Timeline:
    """`apply_entry` for a learner domain event."""
    return apply_entry(timeline, entry_of_event(position, event))


def as_on(timeline: Timeline, on: date) -> Timeline:
    """The timeline as it stood on a date: only facts that occurred on or before it.

    The learner's record itself (Recorded: who they are, as given) always counts. An
    enrolment starts on its programme start, so one not yet started is left out; a
    withdrawal notified to the AO after the date reads as not yet notified."""
    cutoff = on.isoformat()  # ISO dates compare as their text
    facts = []
    for fact in timeline["facts"]:
        if fact["event"] == "Recorded" or fact["occurred_on"] <= cutoff:
            notified = fact["values"].get("notified_on")
            if fact["event"] == "Withdrawn" and notified and notified > cutoff:
                fact = {**fact, "values": {**fact["values"], "notified_on": None}}
            facts.append(fact)
    return {**timeline, "facts": facts}


def stable_from(timeline: Timeline) -> date | None:
    """The first date from which the timeline reads the same on every later date: the latest
    date its facts occurred (the learner's record aside) or a withdrawal was notified. For
    any `on` from then, `as_on(timeline, on) == timeline`; None when no fact has a date."""
    latest = ""
    for fact in timeline["facts"]:
        if fact["event"] == "Recorded":
            continue
        latest = max(latest, fact["occurred_on"] or "")
        if fact["event"] == "Withdrawn":
            latest = max(latest, fact["values"].get("notified_on") or "")
    return date.fromisoformat(latest) if latest else None


class LearnerView:
    """Questions the reports ask of one learner's timeline."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.centre: str = timeline["centre"]
        self.reference: str = timeline["reference"]
        self.facts: list[Fact] = timeline["facts"]

    def of(self, event: str, enrolment: str | None = None) -> list[Fact]:
        """Live facts of one event type (for an enrolment), in recorded order."""
        return [f for f in self.facts if f["event"] == event and (
            enrolment is None or f["enrolment"] == enrolment)]

    def last(self, event: str, enrolment: str | None = None) -> Fact | None:
        found = self.of(event, enrolment)
        return found[-1] if found else None

    def enrolments(self) -> list[Fact]:
        """The live Enrolled facts."""
        return self.of("Enrolled")


def day(fact: Fact, key: str | None = None) -> date:
    """A fact's business date, or the date held in one of its values."""
    text = fact["occurred_on"] if key is None else fact["values"][key]
    return date.fromisoformat(text)


def summarise(timeline: Timeline) -> dict[str, Any]:
    """The learner's state in brief, for `ledger replay`: ULN and each enrolment's progress."""
    view = LearnerView(timeline)
    uln, uln_status = None, "none"
    for fact in view.facts:
        values = fact["values"]
        if fact["event"] == "UlnRecorded" or (fact["event"] == "Recorded" and values.get("uln")):
            uln, uln_status = values["uln"], "unverified"
        elif fact["event"] == "LrsResultRecorded":
            uln_status = values["outcome"]
            uln = values.get("master_uln") or uln
    enrolments = {}
    for enrolled in view.enrolments():
        ref = enrolled["enrolment"]
        steps = [f["event"] for f in view.facts if f["enrolment"] == ref and f is not enrolled]
        registration = "none"
        for step in steps:
            if step in ("RegistrationSubmitted", "RegistrationConfirmed",
                        "RegistrationRejected"):
                registration = step.removeprefix("Registration").lower()
        enrolments[ref] = {
            "awarding_body": enrolled["values"]["awarding_body"],
            "programme_start": enrolled["values"]["programme_start"],
            "registration": registration,
            "withdrawn": "Withdrawn" in steps,
            "latest": steps[-1] if steps else "Enrolled",
        }
    return {"uln": uln, "uln_status": uln_status, "enrolments": enrolments,
            "live_facts": len(view.facts)}
