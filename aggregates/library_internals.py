"""The eventsourcing library's private names that the fast event path relies on, in one place.

`DirectAggregate` (aggregates/direct.py) applies a new event by calling its `@event` method
itself instead of passing it through the library's `mutate`. For that it needs two tables the
library keeps privately in `eventsourcing.domain`:

- `decorated_funcs`: each event class made by `@event` mapped to the decorated method whose body
  applies it;
- `_create_id_param_names`: each aggregate class mapped to the names of its `create_id`
  parameters.

They are read only here. `tests/unit/test_library_internals.py` checks, by name, that each one
still exists and means what this module assumes, so an upgrade of eventsourcing that changes
them fails that test loudly instead of corrupting events. Measured on 2026-12-07 with
`bench/check_pass.py` (20,000 learners, three alternating runs each): the import's check took a
median 28.0 CPU µs a stored event with the fast path and 30.1 with the library's own, about 7%
of the check, so the trick is kept. If it ever has to go, make `DirectAggregate` an alias of
`Aggregate`: the events and their stored form are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import eventsourcing.domain as _domain

PRIVATE_NAMES = ("decorated_funcs", "_create_id_param_names")


def applying_function(event_class: type) -> Callable[..., Any]:
    """The `@event`-decorated method whose body applies events of this class."""
    return _domain.decorated_funcs[event_class]  # type: ignore[no-any-return]


def create_id_parameters(aggregate_class: type) -> list[str]:
    """The names of the aggregate class's `create_id` parameters."""
    return _domain._create_id_param_names[aggregate_class]  # type: ignore[no-any-return]
