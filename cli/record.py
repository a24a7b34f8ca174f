"""Recording commands: each one records facts about one learner and prints their positions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from aggregates.errors import InvalidValue
from cli.context import settings, user_errors
from cli.output import emit_json, folded, format_option, plural, terminal_width

WARNING_LEAD = "Warning: "

centre_option = click.option(
    "--centre", help="Centre number (needed only when the reference exists at several centres)."
)
note_option = click.option("--note", help="A free-text note kept with the event.")
json_option = format_option("text", "json")


def report_recorded(fmt: str, reference: str | None, positions: list[int]) -> None:
    """Print what was recorded: the event positions (the ids `ledger retract` takes) and any
    data-quality warnings (recorded, reported later as findings; on stderr in text)."""
    warnings = getattr(positions, "warnings", [])
    if fmt == "json":
        emit_json({"learner": reference, "events": list(positions), "warnings": warnings})
        return
    for warning in warnings:
        echo_folded(f"{WARNING_LEAD}{warning['field']}: {warning['message']}", err=True,
                    hanging=len(WARNING_LEAD))
    whose = f" for {reference}" if reference else ""
    echo_folded(f"Recorded {plural(len(positions), 'event')}{whose}: "
                f"{', '.join(map(str, positions))}")


def echo_folded(text: str, err: bool = False, hanging: int = 0) -> None:
    """A message folded at spaces to the terminal's width (a terminal would break it
    mid-word, a date in two), continuation lines `hanging` in."""
    click.echo(folded(text, terminal_width(), hanging=hanging), err=err)


def recording(function: Callable[..., list[int]]) -> Callable[..., None]:
    """Wrap a command body that returns positions: adds --note and --format, prints result."""

    @json_option
    @note_option
    @user_errors
    def command(fmt: str, note: str | None, **kwargs: Any) -> None:
        settings().may_create = True
        positions = function(note=note, **kwargs)
        reference = kwargs.get("reference")
        report_recorded(fmt, reference, positions)

    command.__name__ = function.__name__
    command.__doc__ = function.__doc__
    return command


@click.group("learner")
def learner_group() -> None:
    """Record learners."""


@learner_group.command("add")
@click.argument("reference")
@click.option("--centre", required=True, help="Centre number.")
@click.option("--given-name", required=True, help="Legal given name(s) as on certificates.")
@click.option("--family-name", required=True, help="Legal family name.")
@click.option("--dob", required=True, help="Date of birth (YYYY-MM-DD or DD/MM/YYYY).")
@click.option("--gender", required=True,
              help="LRS gender: 0 not known, 1 male, 2 female, 9 not specified.")
@click.option("--postcode", default="", help="UK postcode.")
@click.option("--email", default="", help="Email address.")
@click.option("--uln", default="", help="Unique Learner Number (10 digits).")
@click.option("--title", default="", help="Title (Mr, Ms, Dr, ...).")
@recording
def add_learner(reference: str, centre: str, given_name: str, family_name: str, dob: str,
                gender: str, postcode: str, email: str, uln: str, title: str,
                note: str | None) -> list[int]:
    """Record a new learner REFERENCE at a centre."""
    return settings().app().add_learner(
        settings().context(note), centre, reference, given_name=given_name,
        family_name=family_name, date_of_birth=dob, gender=gender, postcode=postcode,
        email=email, uln=uln, title=title,
    )


@click.command("enrol")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--awarding-body", required=True, help="Awarding body code, e.g. IMI or AIM.")
@click.option("--qualification", required=True, help="Qualification number, e.g. 603/1234/5.")
@click.option("--title", required=True, help="Qualification title.")
@click.option("--start", required=True, help="Programme start date.")
@click.option("--planned-end", required=True, help="Planned end date.")
@click.option("--apprenticeship", is_flag=True, help="An apprenticeship standard (ULN mandatory).")
@click.option("--unit", "units", multiple=True, help="An optional unit selected (repeatable).")
@centre_option
@recording
def enrol(reference: str, enrolment: str, awarding_body: str, qualification: str, title: str,
          start: str, planned_end: str, apprenticeship: bool, units: tuple[str, ...],
          centre: str | None, note: str | None) -> list[int]:
    """Enrol learner REFERENCE on a qualification as ENROLMENT.

    An awarding body without a rule set is recorded all the same; reports list its
    enrolments as not judged."""
    from ledger.rules.names import parse_known_awarding_body  # the rule sets load only here
    from ledger.rules.rulesets import load_rulebook

    body = parse_known_awarding_body(awarding_body, load_rulebook().awarding_bodies)
    return settings().app().enrol(
        settings().context(note), reference, enrolment, awarding_body=body,
        qualification=qualification, title=title, start=start, planned_end=planned_end,
        apprenticeship=apprenticeship, units=units, centre=centre,
    )


@click.command("uln")
@click.argument("reference")
@click.option("--uln", required=True, help="Unique Learner Number (10 digits).")
@click.option("--on", default=None, help="Date recorded (default today).")
@centre_option
@recording
def uln(reference: str, uln: str, on: str | None, centre: str | None,
        note: str | None) -> list[int]:
    """Record the ULN of learner REFERENCE."""
    return settings().app().record_uln(settings().context(note), reference, uln, on, centre)


@click.command("uln-result")
@click.argument("reference")
@click.option("--code", required=True, help="LRS result code WSVRC001 to WSVRC006.")
@click.option("--flags", default="", help="Failure flags, comma-separated (VRF1 to VRF8).")
@click.option("--master-uln", default="", help="Master ULN for a linked match (WSVRC002).")
@click.option("--on", required=True, help="Date of the LRS result.")
@centre_option
@recording
def uln_result(reference: str, code: str, flags: str, master_uln: str, on: str,
               centre: str | None, note: str | None) -> list[int]:
    """Record the LRS verification result for learner REFERENCE's ULN."""
    return settings().app().record_lrs_result(
        settings().context(note), reference, code, on, flags.split(","), master_uln, centre
    )


@click.command("id-check")
@click.argument("reference")
@click.option("--document", required=True, help="Document seen: passport, driving-licence, ...")
@click.option("--on", required=True, help="Date the identity was verified.")
@centre_option
@recording
def id_check(reference: str, document: str, on: str, centre: str | None,
             note: str | None) -> list[int]:
    """Record that learner REFERENCE's identity was verified."""
    return settings().app().verify_id(settings().context(note), reference, document, on, centre)


@click.command("register")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--submitted", default=None, help="Date the AO received the registration.")
@click.option("--confirmed", default=None, help="Date the AO confirmed it.")
@click.option("--ao-ref", default="", help="The AO's registration number (with --confirmed).")
@click.option("--rejected", default=None, help="Date the AO rejected it.")
@click.option("--reason", default="", help="The AO's rejection reason (with --rejected).")
@click.option("--checked", default=None,
              help="Date the registration's details were checked for accuracy.")
@centre_option
@recording
def register(reference: str, enrolment: str, submitted: str | None, confirmed: str | None,
             ao_ref: str, rejected: str | None, reason: str, checked: str | None,
             centre: str | None, note: str | None) -> list[int]:
    """Record the registration of ENROLMENT with the awarding body."""
    return settings().app().register(
        settings().context(note), reference, enrolment, submitted=submitted,
        confirmed=confirmed, ao_ref=ao_ref, rejected=rejected, reason=reason, checked=checked,
        centre=centre,
    )


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    """field=value pairs from --set options."""
    changes = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidValue("set", f"{pair!r} is not field=value")
        field = name.strip().replace("-", "_")
        if field in changes:
            raise InvalidValue("set", f"{field} is given more than once")
        changes[field] = value
    return changes


@click.command("amend")
@click.argument("reference")
@click.option("--set", "assignments", multiple=True, required=True,
              help="field=value, e.g. family_name=Smith (repeatable).")
@click.option("--reason", required=True, help="Why the details change.")
@click.option("--on", default=None, help="Date of the change (default today).")
@centre_option
@recording
def amend(reference: str, assignments: tuple[str, ...], reason: str, on: str | None,
          centre: str | None, note: str | None) -> list[int]:
    """Amend learner REFERENCE's details (one event per field)."""
    return settings().app().amend(
        settings().context(note), reference, parse_assignments(assignments), reason, on, centre
    )


@click.command("assess")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--started", required=True, help="Date formal assessment started.")
@centre_option
@recording
def assess(reference: str, enrolment: str, started: str, centre: str | None,
           note: str | None) -> list[int]:
    """Record that assessment of ENROLMENT started."""
    return settings().app().start_assessment(
        settings().context(note), reference, enrolment, started, centre
    )


@click.command("withdraw")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--left", default=None, help="Date the learner left.")
@click.option("--reason", default="",
              help="left, requested, no-contact, transferred or cannot-complete.")
@click.option("--notified", default=None, help="Date the withdrawal was submitted to the AO.")
@centre_option
@recording
def withdraw(reference: str, enrolment: str, left: str | None, reason: str,
             notified: str | None, centre: str | None, note: str | None) -> list[int]:
    """Record a withdrawal from ENROLMENT (or, with --notified alone, its notification)."""
    return settings().app().withdraw(
        settings().context(note), reference, enrolment, left=left, reason=reason,
        notified=notified, centre=centre,
    )


@click.command("complete")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--units-completed", default=None,
              help="Date the assessor confirmed every mandatory unit complete.")
@click.option("--iqa-signed-off", default=None, help="Date the IQA signed the work off.")
@centre_option
@recording
def complete(reference: str, enrolment: str, units_completed: str | None,
             iqa_signed_off: str | None, centre: str | None, note: str | None) -> list[int]:
    """Record ENROLMENT's units completed and/or its IQA sign-off."""
    return settings().app().sign_off_iqa(
        settings().context(note), reference, enrolment, iqa_signed_off, centre,
        units_completed=units_completed,
    )


@click.command("eqa")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--required", default=None,
              help="Date the awarding body's EQA selected ENROLMENT for sampling.")
@click.option("--sampled", default=None, help="Date the EQA sampling took place.")
@centre_option
@recording
def eqa(reference: str, enrolment: str, required: str | None, sampled: str | None,
        centre: str | None, note: str | None) -> list[int]:
    """Record the external quality assurer's sampling of ENROLMENT."""
    return settings().app().eqa_sampling(
        settings().context(note), reference, enrolment, required=required, sampled=sampled,
        centre=centre,
    )


@click.command("claim")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--claimed", required=True, help="Date the certificate claim was submitted.")
@centre_option
@recording
def claim(reference: str, enrolment: str, claimed: str, centre: str | None,
          note: str | None) -> list[int]:
    """Record the certificate claim for ENROLMENT."""
    return settings().app().submit_claim(
        settings().context(note), reference, enrolment, claimed, centre
    )


@click.command("certificate")
@click.argument("reference")
@click.argument("enrolment")
@click.option("--received", default=None, help="Date the certificate arrived from the AO.")
@click.option("--issued", default=None, help="Date it was issued to the learner.")
@click.option("--collected", default=None, help="Date the learner collected it.")
@centre_option
@recording
def certificate(reference: str, enrolment: str, received: str | None, issued: str | None,
                collected: str | None, centre: str | None, note: str | None) -> list[int]:
    """Record the certificate for ENROLMENT received, issued and collected."""
    return settings().app().certificate(
        settings().context(note), reference, enrolment, received=received, issued=issued,
        collected=collected, centre=centre,
    )


@click.command("retract")
@click.argument("event_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--reason", required=True, help="Why the event was recorded in error.")
@note_option
@json_option
@user_errors
def retract(event_id: int, reason: str, note: str | None, fmt: str) -> None:
    """Retract the event EVENT_ID (its position in the audit); the event itself stays."""
    app = settings().app()
    positions = app.retract(settings().context(note), event_id, reason)
    retracted = describe_position(app, event_id)
    if fmt == "json":
        emit_json({"learner": retracted["learner"], "events": positions,
                   "retracted": retracted, "warnings": []})
        return
    enrolment = f" {retracted['enrolment']}" if retracted["enrolment"] else ""
    echo_folded(f"Retracted event {event_id}: {retracted['event']}{enrolment} of learner "
                f"{retracted['learner']} at centre {retracted['centre']}, happened "
                f"{retracted['occurred_on']}; the retraction is event "
                f"{', '.join(map(str, positions))}")


def describe_position(app: Any, position: int) -> dict[str, Any]:
    """The learner, event name, enrolment and date of the learner event at a position."""
    from projections.audit import event_name

    learner, _ = app.event_at(position)
    events = dict(app.learner_events(learner))
    first, event = next(iter(events.values())), events[position]
    return {"position": position, "learner": first.reference, "centre": first.centre,
            "event": event_name(event), "enrolment": getattr(event, "enrolment", None),
            "occurred_on": getattr(event, "occurred_on", None)}


COMMANDS = (enrol, uln, uln_result, id_check, register, amend, assess, withdraw, complete,
            eqa, claim, certificate, retract)
