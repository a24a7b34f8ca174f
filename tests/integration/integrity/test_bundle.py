"""EQA bundles: a centre's events and the chain proving them, verified offline with no database."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.learner import learner_id
from ledger.integrity.bundle import BadBundle, export_bundle, verify_bundle
from ledger.integrity.chain import Digest
from ledger.integrity.verify import LedgerTampered, current_digest
from tests.integration.integrity import tampering as t

RULES = '[rule]\nid = "CG-REG-1"\ndays = 30  # £ cited: handbook 4.2\n'


def record_two_centres(app) -> None:
    t.record_small_ledger(app)
    app.add_learner(t.CTX, "C2", "M1", given_name="Dee", family_name="Olu",
                    date_of_birth="2001-02-03", gender="1")


def _readable(line: dict) -> str:
    """A bundle line as text, its event state (text or base64) parsed and without the sealed
    ciphertext: base64 of random bytes spells any short word now and then ("Dee" in about 1%
    of runs)."""
    line = dict(line)
    if "state" in line or "state_base64" in line:
        text = line.pop("state", None)
        state = json.loads(text if text is not None else base64.b64decode(line.pop("state_base64")))
        state.get("_sealed", {}).pop("data", None)
        line["state"] = state
    return json.dumps(line, ensure_ascii=False)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "cg.toml").write_text(RULES, encoding="utf-8")
    return folder


def test_a_centre_bundle_holds_its_events_and_only_hashes_of_the_others(
    make_app, tmp_path, policies
):
    app = make_app()
    record_two_centres(app)
    out = tmp_path / "c1.jsonl"
    summary = export_bundle(app, "C1", out, policies=policies)
    assert (summary.events, summary.entries, summary.rule_sets) == (4, 13, ("cg.toml",))
    assert str(summary.digest) == current_digest(app)["digest"]

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["type"] for line in lines] == (
        ["bundle", "rule-set"] + ["event", "link", "link"] * 3 + ["event"] + ["link"] * 3 + ["end"]
    )
    events = [line for line in lines if line["type"] == "event"]
    assert {line["aggregate_id"] for line in events} == {
        str(learner_id("C1", ref)) for ref in ("L1", "L2", "L3")
    }
    assert "Dee" not in "".join(_readable(line) for line in lines)
    assert lines[1]["text"] == RULES

    checked = verify_bundle(out, Digest.parse(current_digest(app)["digest"]))
    assert (checked.centre, checked.events, checked.entries) == ("C1", 4, 13)


def test_a_bundle_limited_to_dates_with_no_events_still_verifies(make_app, tmp_path, policies):
    app = make_app()
    record_two_centres(app)
    tomorrow = date.today() + timedelta(days=1)
    out = tmp_path / "none.jsonl"
    summary = export_bundle(app, "C1", out, start=tomorrow, policies=policies)
    assert (summary.events, summary.entries) == (0, 0)
    assert verify_bundle(out).events == 0


def test_a_tampered_ledger_refuses_to_export(make_app, tmp_path):
    app = make_app()
    record_two_centres(app)
    with app.engine.begin() as connection:
        t.drop_triggers(connection)
        t.edit_state_byte(app, connection, 2)
    with pytest.raises(LedgerTampered, match=r"position 2 \(changed\)"):
        export_bundle(app, "C1", tmp_path / "x.jsonl")


def test_a_bundle_against_another_digest_fails(make_app, tmp_path):
    app = make_app()
    record_two_centres(app)
    out = tmp_path / "c1.jsonl"
    export_bundle(app, "C1", out)
    with pytest.raises(BadBundle, match="not the digest given"):
        verify_bundle(out, Digest(3, "ab" * 32))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> bytes:
    from ledger.app import LedgerApp

    folder = tmp_path_factory.mktemp("bundle")
    (folder / "policies").mkdir()
    (folder / "policies" / "cg.toml").write_text(RULES, encoding="utf-8")
    app = LedgerApp(f"sqlite:///{folder / 'ledger.db'}")
    record_two_centres(app)
    export_bundle(app, "C1", folder / "c1.jsonl", policies=folder / "policies")
    app.close()
    return (folder / "c1.jsonl").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_one_byte_edit_of_a_bundle_fails_verification(pristine, tmp_path_factory, data):
    offset = data.draw(st.integers(0, len(pristine) - 1), label="offset")
    replacement = data.draw(
        st.integers(0, 255).filter(lambda b: b != pristine[offset]), label="byte"
    )
    edited = bytearray(pristine)
    edited[offset] = replacement
    path = tmp_path_factory.mktemp("edited") / "c1.jsonl"
    path.write_bytes(bytes(edited))
    with pytest.raises(BadBundle):
        verify_bundle(path)


def test_the_untouched_bundle_passes(pristine, tmp_path):
    path = tmp_path / "c1.jsonl"
    path.write_bytes(pristine)
    assert verify_bundle(path).events == 4


@pytest.mark.parametrize(("edit", "message"), [
    (lambda lines: lines[:-1], "no end line"),
    (lambda lines: lines[:3] + lines[4:], "out of order"),
    (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], "rule set after the events"),
])
def test_removing_or_moving_whole_lines_is_named(pristine, tmp_path, edit, message):
    lines = pristine.splitlines(keepends=True)
    path = tmp_path / "c1.jsonl"
    path.write_bytes(b"".join(edit(lines)))
    with pytest.raises(BadBundle, match=message):
        verify_bundle(path)
