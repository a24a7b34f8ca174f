"""`ledger report audit --centre C --as-at T` reads only the centre's learners' events and
lists what replaying the whole ledger up to the moment listed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from cli.output import plain
from ledger.app import LedgerApp
from ledger.integrity.stamps import stamps_of
from ledger.reporting import centre_audit
from ledger.reporting.centre_audit import AUDIT_WINDOW
from ledger.reporting.reports import replay
from projections.audit import audit_rows


def replayed_listing(app: LedgerApp, centre: str, moment: datetime | None) -> list[Any]:
    """The listing as the command built it before: every event of the ledger replayed."""
    per_learner: dict[str, list[tuple[int, Any]]] = {}
    references: dict[str, str] = {}
    for position, event, timeline in replay(app, until=moment):
        if timeline["centre"] != centre:
            continue
        references[timeline["learner_id"]] = timeline["reference"]
        per_learner.setdefault(timeline["learner_id"], []).append((position, event))
    stamps = stamps_of(app, (p for events in per_learner.values() for p, _ in events))
    rows = [{"learner": references[key], **row} for key, events in per_learner.items()
            for row in audit_rows(events, moment, stamps)]
    return sorted(rows, key=lambda row: row["position"])


def add(ledger: Any, reference: str, centre: str) -> None:
    assert ledger("learner", "add", reference, "--centre", centre, "--given-name", "Ada",
                  "--family-name", "Lovelace", "--dob", "2000-01-01", "--gender", "2",
                  "--uln", "1000000043").exit_code == 0
    assert ledger("enrol", reference, "E1", "--centre", centre, "--awarding-body", "AIM",
                  "--qualification", "603/1/1", "--title", "Cert", "--start", "2026-09-01",
                  "--planned-end", "2027-06-30").exit_code == 0


@pytest.mark.parametrize("window", [2, AUDIT_WINDOW])
def test_the_audit_listing_as_at_a_moment_equals_replaying_the_ledger_up_to_it(
    ledger: Any, db_url: str, window: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(centre_audit, "AUDIT_WINDOW", window)  # 2: read in many windows
    for reference, centre in (("L1", "C1"), ("L2", "C2"), ("L3", "C1")):
        add(ledger, reference, centre)
    withdrawn = json.loads(ledger("withdraw", "L1", "E1", "--left", "2026-10-01", "--reason",
                                  "left", "--format", "json").stdout)["events"][0]
    moment = datetime.now(UTC)
    assert ledger("retract", str(withdrawn), "--reason", "wrong learner").exit_code == 0
    add(ledger, "L4", "C1")  # recorded after the moment: not listed as at it
    assert ledger("register", "L3", "E1", "--centre", "C1", "--submitted",
                  "2026-09-10").exit_code == 0
    app = LedgerApp(db_url)
    for as_at in (moment, None):
        args = ["--as-at", as_at.isoformat()] if as_at else []
        listed = json.loads(ledger("report", "audit", "--centre", "C1", "--format", "json",
                                   *args).stdout)["rows"]
        expected = json.loads(json.dumps(plain(replayed_listing(app, "C1", as_at))))
        assert listed == expected
    assert {row["learner"] for row in listed} == {"L1", "L3", "L4"}
    table = ledger("report", "audit", "--centre", "C1").stdout.splitlines()
    headlines = [line for line in table if re.match(r"\s*\d+  \d{4}-\d\d-\d\d .*  L\d  ", line)]
    assert len(headlines) == len(listed)
    assert any("Withdrawn E1  [retracted by" in line for line in headlines)
    assert table[table.index("") + 1].startswith(f"{len(listed)} events.")


def test_a_centre_with_no_learners_lists_no_events(ledger: Any) -> None:
    add(ledger, "L1", "C1")
    assert json.loads(ledger("report", "audit", "--centre", "C2", "--format", "json"
                             ).stdout)["rows"] == []
    assert ledger("report", "audit", "--centre", "C2").stdout.splitlines()[-1] == "No events."
    for form in ("table", "json", "csv"):  # an unknown zone is refused in every format
        refused = ledger("report", "audit", "--centre", "C1", "--timezone", "Mars/Base",
                         "--format", form)
        assert refused.exit_code == 1 and "Mars/Base" in refused.stderr
