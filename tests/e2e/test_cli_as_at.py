"""The README's `--as-at` example: the audit as it stood before a retraction."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_as_at_example_looks_back_at_a_moment_taken_during_the_walkthrough():
    walkthrough = README.read_text().split("## Walkthrough", 1)[1].split("```", 2)[1]
    lines = [line.split("#")[0].strip() for line in walkthrough.splitlines()]
    moment = next(i for i, line in enumerate(lines) if line.startswith("BEFORE=$(date"))
    retract = next(i for i, line in enumerate(lines) if line.startswith("ledger retract 8"))
    as_at = next(i for i, line in enumerate(lines) if "--as-at" in line)
    assert moment < retract < as_at
    assert '--as-at "$BEFORE"' in lines[as_at]
    assert not re.search(r"--as-at \d{4}-\d{2}-\d{2}", walkthrough)


def test_as_at_a_moment_before_a_retraction_shows_the_event_standing(ledger):
    ledger("learner", "add", "L001", "--centre", "12345", "--given-name", "Siân",
           "--family-name", "O'Brien", "--dob", "2004-05-06", "--gender", "2")
    ledger("enrol", "L001", "E1", "--awarding-body", "IMI", "--qualification", "603/1234/5",
           "--title", "Diploma", "--start", "2026-09-01", "--planned-end", "2027-07-31")
    withdrawn = ledger("withdraw", "L001", "E1", "--left", "2026-11-02", "--reason",
                       "requested", "--format", "json")
    position = json.loads(withdrawn.stdout)["events"][0]
    before = datetime.now(UTC).isoformat()
    assert ledger("retract", str(position), "--reason", "wrong learner").exit_code == 0

    def statuses(*args):
        audit = json.loads(ledger("audit", "L001", "--format", "json", *args).stdout)
        return {event["position"]: event["status"] for event in audit["events"]}

    now, then = statuses(), statuses("--as-at", before)
    assert now[position].startswith("retracted by")
    assert then[position] == "recorded"
    assert len(then) == len(now) - 1
