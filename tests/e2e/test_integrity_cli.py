"""`ledger verify`, `ledger digest`, `ledger export` and `ledger verify --bundle` on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.integrity.verify import current_digest
from tests.integration.integrity import tampering as t


@pytest.fixture
def ledger(make_app):
    app = make_app()
    t.record_small_ledger(app)
    return app


def run(db_url: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db_url, *args])


def test_verify_prints_the_event_count_and_head_digest(ledger, db_url):
    digest = current_digest(ledger)["digest"]
    result = run(db_url, "verify")
    assert result.exit_code == 0, result.output
    assert result.output == f"Verified 10 events.\nDigest: {digest}\n"


def test_digest_prints_position_and_hash_as_text_or_json(ledger, db_url):
    head = current_digest(ledger)
    assert run(db_url, "digest").output == f"{head['digest']}\n"
    assert json.loads(run(db_url, "digest", "--format", "json").output) == head
    assert head["position"] == 10 and head["events"] == 10


def test_verify_with_a_kept_digest_says_what_it_proves(ledger, db_url):
    kept = current_digest(ledger)["digest"]
    ledger.enrol(t.CTX, "L2", "E2", awarding_body="CG", qualification="600/1234/5",
                 title="Plumbing", start="2025-09-01", planned_end="2026-07-01")
    now = current_digest(ledger)["digest"]
    result = run(db_url, "verify", "--digest", kept)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Verified 11 events.\nDigest: {now}\n"
        f"Extends digest {kept}: nothing up to position 10 was changed.\n"
    )


def test_verify_exits_1_naming_the_first_tampered_event(ledger, db_url):
    learner = ledger.find_learner("L2").id
    with ledger.engine.begin() as connection:
        t.drop_triggers(connection)
        t.edit_state_byte(ledger, connection, 4)
    result = run(db_url, "verify")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: tampered at position 4 (changed): event 4 (Learner.Recorded, version 1 of "
        f"{learner}) does not match its chain entry: its stored content (aggregate, version, "
        "topic or state bytes) was altered\n"
    )


def test_a_malformed_digest_is_a_user_error(ledger, db_url):
    result = run(db_url, "verify", "--digest", "nonsense")
    assert result.exit_code == 1
    assert result.output.startswith("Error: digest 'nonsense' is not POSITION:HASH")


def test_export_then_verify_the_bundle_offline(ledger, db_url, tmp_path):
    digest = current_digest(ledger)["digest"]
    out = tmp_path / "c1.jsonl"
    result = run(db_url, "export", "--centre", "C1", "--from", "2020-01-01", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Exported 4 events of centre C1 to {out} (10 chain entries, "
    )
    assert result.output.endswith(f"Digest: {digest}\n")

    offline = CliRunner().invoke(cli, ["--db", "sqlite:////nonexistent/none.db",
                                       "verify", "--bundle", str(out), "--digest", digest])
    assert offline.exit_code == 0, offline.output
    assert offline.output.startswith("Bundle verified: 4 events of centre C1 in 10 chain "
                                     "entries, ")
    assert offline.output.endswith(f"Digest: {digest}\nExtends digest {digest}: nothing up to "
                                   f"position 10 was changed.\n")


def test_a_bundle_edited_by_one_byte_fails_on_the_cli(ledger, db_url, tmp_path):
    out = tmp_path / "c1.jsonl"
    run(db_url, "export", "--centre", "C1", str(out))
    data = bytearray(out.read_bytes())
    edited = data.index(b"Learner.Recorded") + 8
    data[edited] = ord("r")
    line = data[:edited].count(b"\n") + 1
    out.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["verify", "--bundle", str(out)])
    assert result.exit_code == 1
    assert result.output == (f"Error: line {line} (position 1): the event does not match its "
                             "content hash: it was edited\n")


@pytest.mark.parametrize("command", ["verify", "digest", "export"])
def test_every_integrity_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_export_to_a_missing_folder_is_a_user_error(ledger, db_url, tmp_path):
    out = tmp_path / "no-such-folder" / "c1.jsonl"
    result = run(db_url, "export", "--centre", "C1", str(out))
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {out}: No such file or directory\n"


def test_verifying_a_missing_bundle_is_a_user_error(tmp_path):
    result = CliRunner().invoke(cli, ["verify", "--bundle", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1
    assert result.output == (f"Error: cannot read {tmp_path / 'none.jsonl'}: "
                             "No such file or directory\n")


def test_an_export_range_that_ends_before_it_starts_is_refused(ledger, db_url, tmp_path):
    result = run(db_url, "export", "--centre", "C1", "--from", "2026-02-01", "--to",
                 "2026-01-31", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    assert result.output == "Error: to: 2026-01-31 is before --from 2026-02-01\n"


def test_exporting_a_centre_with_no_learners_is_an_error_and_writes_nothing(ledger, db_url,
                                                                           tmp_path):
    out = tmp_path / "nope.jsonl"
    result = run(db_url, "export", "--centre", "NOPE", str(out))
    assert result.exit_code == 1
    assert result.output == "Error: no learner is recorded at centre NOPE\n"
    assert not out.exists()


def test_a_bundle_carries_the_rule_sets_the_reports_use(ledger, db_url, tmp_path):
    extra = tmp_path / "policies"
    extra.mkdir()
    shipped = (Path(__file__).parents[2] / "ledger" / "policies" / "imi.toml").read_text()
    (extra / "imi.toml").write_text(shipped.replace("days = 90", "days = 120"))
    out = tmp_path / "c1.jsonl"
    exported = run(db_url, "export", "--centre", "C1", "--policies", str(extra), str(out))
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    rule_sets = {line["name"]: line["text"] for line in lines if line.get("type") == "rule-set"}
    assert "days = 120" in rule_sets["imi.toml"] and "aim.toml" in rule_sets


def test_a_bundle_is_checked_against_an_earlier_digest_within_it(ledger, db_url, tmp_path):
    from ledger.integrity.verify import digest_at

    earlier = str(digest_at(ledger, 8))
    out = tmp_path / "c1.jsonl"
    run(db_url, "export", "--centre", "C1", str(out))
    result = CliRunner().invoke(cli, ["verify", "--bundle", str(out), "--digest", earlier])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"Extends digest {earlier}: nothing up to position 8 was changed.")
    forged = earlier[:-1] + ("0" if earlier[-1] != "0" else "1")
    refused = CliRunner().invoke(cli, ["verify", "--bundle", str(out), "--digest", forged])
    assert refused.exit_code == 1
    assert "the history before it was changed" in refused.output
