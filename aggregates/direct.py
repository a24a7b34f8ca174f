"""An Aggregate whose commands apply their new events directly, at a fraction of the cost."""

from __future__ import annotations

from dataclasses import MISSING, fields
from functools import cache
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import get_topic

from aggregates.library_internals import applying_function, create_id_parameters

EVENT_HEAD = ("originator_id", "originator_version", "timestamp")
CREATED_HEAD = (*EVENT_HEAD, "originator_topic")


class DirectAggregate(Aggregate):
    """The library's Aggregate, with `trigger_event` and `_create` applying the new event
    by calling its `@event` method (or `__init__`) themselves.

    The library's versions pass each new event through its `mutate`, which checks the id
    and version just given to it, picks the method's arguments out of the event's
    attributes and binds the method, every time: about 5.4 µs an event, against 3.1 here
    (on one host), and an import makes hundreds of thousands. The events are the library's
    own classes, with the same attributes in the same order (so stored the same; see
    `made`), and replaying them still goes through the library's `mutate`:
    `tests/unit/test_direct_aggregate.py` checks that commands make the same events and
    state both ways, and that a replay agrees. Keyword arguments only, exactly the method's.
    """

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        """As the library's: the next event in the sequence, applied and pending."""
        version = self._version + 1
        timestamp = event_class.create_timestamp()
        new_event = made(event_class, EVENT_HEAD, (self._id, version, timestamp), kwargs)
        applying_function(event_class)(self, **kwargs)
        self._version = version
        self._modified_on = timestamp
        self._pending_events.append(new_event)

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Self:
        """As the library's: a new aggregate, its created event applied and pending."""
        if id is None:  # the library's own table of each class's `create_id` parameters
            names = create_id_parameters(cls)
            id = cls.create_id(**{name: value for name, value in kwargs.items() if name in names})
        timestamp = event_class.create_timestamp()
        created = made(event_class, CREATED_HEAD,
                       (id, cls.INITIAL_VERSION, timestamp, get_topic(cls)), kwargs)
        aggregate = cls.__new__(cls)
        aggregate.__base_init__(id, cls.INITIAL_VERSION, timestamp)
        aggregate.__init__(**kwargs)  # type: ignore[misc]  # the body, as `mutate` calls it
        aggregate._pending_events.append(created)
        return aggregate


def made(event_class: Any, head: tuple[str, ...], first: tuple[Any, ...],
         attributes: dict[str, Any]) -> Any:
    """A new event of the class: the head's values (id, version, timestamp and, on a
    created event, topic), then the attributes.

    The library's events are frozen dataclasses, whose `__init__` sets each attribute
    through `object.__setattr__`: about 3.3 µs for an `Enrolled` (a dozen attributes),
    against 1.6 here, checks included, filling its `__dict__` in the same order. That is
    done when the attributes come in the order the class declares them and the id is a
    UUID (all its `__post_init__` checks); otherwise the class is called, as the library
    does.
    """
    if (attributes_in_order(event_class, head) == tuple(attributes)
            and type(first[0]) is UUID):
        event = object.__new__(event_class)
        state = event.__dict__
        state.update(zip(head, first, strict=True))
        state.update(attributes)
        return event
    return event_class(**dict(zip(head, first, strict=True)), **attributes)


@cache
def attributes_in_order(event_class: type, head: tuple[str, ...]) -> tuple[str, ...] | None:
    """The class's attributes after the head, in the order its `__init__` sets them; None
    when its `__init__` does more than set them (a default, or a `__post_init__` of its own)."""
    declared = fields(event_class)  # type: ignore[arg-type]
    names = tuple(field.name for field in declared)
    if (names[:len(head)] != head
            or getattr(event_class, "__post_init__", None) is not DomainEvent.__post_init__
            or any(not field.init or field.default is not MISSING
                   or field.default_factory is not MISSING for field in declared)):
        return None
    return names[len(head):]
