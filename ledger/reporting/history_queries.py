"""Reports as recorded by a past moment, read from the kept rows valid at that moment.

Each learner's kept rows are judged for every version of their timeline (one per distinct
recorded time of their events, `ledger.reporting.row_versions`): the current version's in the
current tables, standing from `recorded_from`; the earlier ones' in the history tables,
standing over [recorded_from, recorded_to). The rows as recorded by a moment T are the union
of the current rows from T or before and the history rows standing at T: `KeptReport`'s own
queries read that union in place of the current tables, so nothing is folded but the few
learners the kept rows cannot answer for:

- those whose version at T reads differently on the judging date (a fact dated after it:
  `stable_from` after `--on`), folded from their events recorded by T;
- those with an event after the position the rows were judged at (another process wrote
  since the refresh), folded likewise and read in place of their kept rows.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Table, func, select

from ledger.reporting.as_at import timelines_recorded_by
from ledger.reporting.report_queries import KeptReport
from ledger.reporting.report_rows import (
    CURRENT_TABLES,
    HISTORY_TABLES,
    rows_state,
)
from ledger.reporting.reports import REBUILD_PAGE_SIZE, entry_pages, last_position, microseconds
from projections.policy import PolicyLike
from projections.timeline import Timeline

if TYPE_CHECKING:
    from ledger.app import LedgerApp


def rows_standing_at(current: Table, history: Table, moment: int) -> str:
    """The rows of one kept table standing at a moment (microseconds), as SQL text for
    `KeptReport`'s queries: a subquery with the current table's columns."""
    names = ", ".join(column.name for column in current.columns)
    return (f"(SELECT {names} FROM {current.name} WHERE recorded_from <= {int(moment)} "
            f"UNION ALL SELECT {names} FROM {history.name} WHERE recorded_from <= "
            f"{int(moment)} AND recorded_to > {int(moment)}) AS "
            f"{current.name.removeprefix('ledger_report_')}")


def _latest_version(app: LedgerApp) -> int:
    """The moment the latest current version stands from: at or after it, no history row
    stands (each ends where a later version begins) and every current row does."""
    table = CURRENT_TABLES[0]
    with app.engine.connect() as connection:
        return int(connection.execute(select(func.max(table.c.recorded_from))).scalar() or 0)


class HistoryReport(KeptReport):
    """`KeptReport` as recorded by `moment`: its questions asked of the rows standing then."""

    def __init__(self, app: LedgerApp, book: PolicyLike, on: date, moment: datetime,
                 awarding_body: str | None = None, centre: str | None = None) -> None:
        self.moment, self.app = moment, app
        instant = microseconds(moment)
        if instant < _latest_version(app):  # else the current rows are those standing then
            self.learners_from, self.registrations_from, self.findings_from = (
                rows_standing_at(current, history, instant)
                for current, history in zip(CURRENT_TABLES, HISTORY_TABLES, strict=True))
        super().__init__(app, book, on, awarding_body, centre,
                         override=self._written_since(app, moment))

    @staticmethod
    def _written_since(app: LedgerApp, moment: datetime) -> dict[str, Timeline | None]:
        """The learners with an event after the position the kept rows were judged at, with
        their timelines as recorded by the moment (None: no event recorded by then)."""
        with app.engine.connect() as connection:
            state = rows_state(connection)
        judged_at = 0 if state is None else state.position
        learners: set[str] = set()
        for batch in entry_pages(app, judged_at, last_position(app), REBUILD_PAGE_SIZE):
            learners.update(entry.learner_id for entry in batch)
        return timelines_recorded_by(app, sorted(learners), moment)

    @cached_property
    def judged_here(self) -> list[Timeline]:
        """The learners whose version at the moment reads differently on the judging date,
        folded from their events recorded by the moment, and those of `override`."""
        sql, params = f"SELECT learner_id FROM {self.learners_from} WHERE stable_from > ?", [
            self.on.toordinal()]
        if self.centre is not None:
            sql, params = sql + " AND centre = ?", [*params, self.centre]
        ids = [learner for (learner,) in self._rows(sql, params)
               if learner not in self.override]
        found = {key: timeline for key, timeline
                 in timelines_recorded_by(self.app, ids, self.moment).items()
                 if timeline is not None}
        found.update((key, timeline) for key, timeline in self.override.items()
                     if timeline is not None)
        return [found[key] for key in sorted(found)
                if self.centre is None or found[key]["centre"] == self.centre]
