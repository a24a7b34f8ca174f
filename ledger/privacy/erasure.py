"""Crypto-shredding: record the erasure on the learner, then destroy the learner's key."""

from __future__ import annotations

import random
import time
from datetime import date
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError

from aggregates.errors import ConcurrencyConflict
from aggregates.learner import Context
from aggregates.values import parse_text
from ledger.privacy.keys import check_can_erase

if TYPE_CHECKING:
    from ledger.app import LedgerApp

MAX_ATTEMPTS = 30


def erase_learner(
    app: LedgerApp, ctx: Context, reference: str, reason: str, centre: str | None = None,
) -> list[int]:
    """Erase a learner's personal data: an `Erased` event, then the key is destroyed.

    Needs no master key. Run again on an erased learner whose key came back (a restored key
    table), it destroys the key again and records nothing; otherwise it refuses to erase twice.
    """
    why = parse_text(reason, "reason")
    check_can_erase(app.keys.engine)
    plain = Context(actor=ctx.actor, source=ctx.source, note=None)
    for _ in range(MAX_ATTEMPTS):
        learner = app.find_learner(reference, centre)
        positions: list[int] = []
        if learner.latest("erased") is None or app.keys.state(learner.id) == "erased":
            learner.erase(why, date.today(), plain)
            try:
                positions = [r.notification.id for r in app.save(learner)]
            except IntegrityError:
                time.sleep(random.uniform(0, 0.01))
                continue
        app.keys.destroy(learner.id)
        return positions
    raise ConcurrencyConflict(f"learner {reference!r} kept changing; try again")
