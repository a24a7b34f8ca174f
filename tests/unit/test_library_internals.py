"""The eventsourcing library's private names we rely on still exist and mean what we assume.

An upgrade of eventsourcing that renames or changes one fails here, naming it, before any
event is made the wrong way (aggregates/library_internals.py, ledger/integrity/chained_recorder.py).
"""

from __future__ import annotations

import inspect

import eventsourcing
import eventsourcing.domain
import pytest
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder

from aggregates.learner import Learner
from aggregates.library_internals import (
    PRIVATE_NAMES,
    applying_function,
    create_id_parameters,
)

VERSION = getattr(eventsourcing, "__version__", "this version")

# the private methods of eventsourcing-sqlalchemy's recorder that ours overrides or calls
RECORDER_HOOKS = {
    "_insert_stored_events": ("session", "stored_events"),
    "_lock_table": ("session",),
    "_notify_channel": ("session",),
}


@pytest.mark.parametrize("name", PRIVATE_NAMES)
def test_each_private_name_of_the_domain_module_still_exists(name: str) -> None:
    assert hasattr(eventsourcing.domain, name), (
        f"eventsourcing {VERSION} no longer has eventsourcing.domain.{name}, which "
        "aggregates/library_internals.py reads: make DirectAggregate an alias of Aggregate")


def test_the_decorated_functions_table_maps_an_event_class_to_the_method_that_applies_it() -> None:
    function = applying_function(Learner.Enrolled)
    assert function.__name__ == "_enrolled", (
        "eventsourcing.domain.decorated_funcs no longer maps an event class to its @event method")
    assert "enrolment" in inspect.signature(function).parameters


def test_the_create_id_table_holds_the_names_of_create_id_parameters() -> None:
    assert list(create_id_parameters(Learner)) == ["centre", "reference"], (
        "eventsourcing.domain._create_id_param_names no longer lists create_id's parameters")


@pytest.mark.parametrize("hook", sorted(RECORDER_HOOKS))
def test_each_recorder_hook_our_chained_recorder_uses_still_exists_with_its_parameters(
    hook: str,
) -> None:
    method = getattr(SQLAlchemyApplicationRecorder, hook, None)
    assert method is not None, (
        f"eventsourcing-sqlalchemy's SQLAlchemyApplicationRecorder has no {hook} any more; "
        "ledger/integrity/chained_recorder.py overrides or calls it")
    parameters = list(inspect.signature(method).parameters)
    for expected in RECORDER_HOOKS[hook]:
        assert expected in parameters, f"{hook} no longer takes {expected!r}: {parameters}"
