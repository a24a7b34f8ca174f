"""Sealing, redaction and retention rules, in memory."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.errors import ConfigurationError, ImpossibleCommand
from aggregates.learner import Context, Learner
from ledger.privacy import crypto
from ledger.privacy.crypto import (
    MasterKeySource,
    OpenFailed,
    decode_key,
    encode_key,
    new_key,
    seal,
    unseal,
    write_key_file,
)
from ledger.privacy.redaction import REDACTED, redact
from ledger.privacy.retention import add_years, retention_of
from ledger.rules.rulesets import RuleBook

CTX = Context(actor="officer", source="test")


@given(st.binary(max_size=200), st.binary(max_size=40))
def test_sealed_bytes_open_only_with_the_same_key_and_context(plaintext, context):
    key = new_key()
    sealed = seal(key, plaintext, context)
    assert unseal(key, sealed, context) == plaintext
    with pytest.raises(OpenFailed):
        unseal(new_key(), sealed, context)
    with pytest.raises(OpenFailed):
        unseal(key, sealed, context + b"x")


def test_a_key_survives_its_text_form_and_a_bad_one_is_named():
    key = new_key()
    assert decode_key(encode_key(key), "here") == key
    with pytest.raises(ConfigurationError, match="LEDGER_MASTER_KEY is not a base64 32-byte"):
        decode_key(encode_key(key[:16]), "LEDGER_MASTER_KEY")


personal = st.text(min_size=3, max_size=20).filter(lambda s: s.strip() and "[" not in s)


@given(personal, personal, personal, personal)
def test_redaction_masks_dates_of_birth_postcodes_and_emails_at_any_depth(
    dob, postcode, email, name
):
    row = {"changes": {"details": {"given_name": name, "date_of_birth": dob,
                                   "postcode": postcode, "email": email}},
           "amendment": {"field": "postcode", "old": postcode, "new": email},
           "warnings": [{"field": "date_of_birth", "message": dob}]}
    masked = redact(row)
    assert masked["changes"]["details"] == {"given_name": name, "date_of_birth": REDACTED,
                                            "postcode": REDACTED, "email": REDACTED}
    assert masked["amendment"] == {"field": "postcode", "old": REDACTED, "new": REDACTED}
    assert masked["warnings"] == [{"field": "date_of_birth", "message": REDACTED}]
    assert row["changes"]["details"]["email"] == email


def test_redaction_masks_emails_and_postcodes_written_in_notes():
    assert redact([{"note": "rang ann@example.org, moved to LS1 4AB", "uln": "1000000043"}]) == [
        {"note": f"rang {REDACTED}, moved to {REDACTED}", "uln": "1000000043"}
    ]


def test_a_leap_day_plus_years_is_the_twenty_eighth():
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert add_years(date(2024, 3, 1), 3) == date(2027, 3, 1)


def learner_with(*enrolments):
    learner = Learner.record("C1", "L1", {"given_name": "A", "family_name": "B",
                                          "date_of_birth": date(2000, 1, 1), "gender": 1},
                             None, [], date(2023, 1, 1), CTX)
    for ref, body in enrolments:
        learner.enrol(ref, body, "603/1234/5", "Diploma", [], date(2023, 9, 1),
                      date(2024, 7, 1), False, [], CTX)
    return learner


def test_retention_runs_from_the_last_enrolment_to_end():
    book = RuleBook(versions={}, retention={"ILM": 6}, default_retention_years=3)
    learner = learner_with(("E1", "IMI"), ("E2", "ILM"))
    learner.withdraw("E1", date(2023, 10, 2), "requested", None, CTX)
    assert retention_of(learner, book).keep_until is None
    learner.submit_claim("E2", date(2024, 6, 1), CTX)
    learner.receive_certificate("E2", date(2024, 6, 10), CTX)
    learner.issue_certificate("E2", date(2024, 6, 12), CTX)
    retention = retention_of(learner, book)
    assert (retention.ended_on, retention.basis, retention.keep_until) == (
        date(2024, 6, 12), "E2 certificated", date(2030, 6, 12)
    )
    assert not retention.due(date(2030, 6, 12)) and retention.due(date(2030, 6, 13))


def test_a_learner_never_enrolled_is_kept_three_years_from_recording():
    retention = retention_of(learner_with(), RuleBook(versions={}, default_retention_years=3))
    assert (retention.basis, retention.keep_until) == ("recorded, never enrolled",
                                                       date(2026, 1, 1))


def test_an_erasure_cannot_be_retracted_or_repeated():
    learner = learner_with()
    learner.erase("learner request", date(2026, 1, 5), CTX)
    with pytest.raises(ImpossibleCommand, match="already erased on 2026-01-05"):
        learner.erase("again", date(2026, 1, 6), CTX)
    with pytest.raises(ImpossibleCommand, match="an erasure cannot be retracted"):
        learner.retract(2, "oops", date(2026, 1, 6), CTX)


def test_a_key_file_is_written_whole_owner_only_and_never_overwritten(tmp_path):
    path = tmp_path / "ledger.db.key"
    key = new_key()
    write_key_file(path, key)
    assert decode_key(path.read_text(), "test") == key
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        write_key_file(path, new_key())
    assert decode_key(path.read_text(), "test") == key
    assert [found.name for found in tmp_path.iterdir()] == ["ledger.db.key"]  # no draft left


def test_a_ledger_key_made_by_another_process_at_the_same_moment_is_the_one_used(
    tmp_path, monkeypatch
):
    path = tmp_path / "ledger.db.key"
    theirs = new_key()
    write = crypto.write_key_file

    def another_process_first(target, key):
        write(target, theirs)  # made between our look for the file and our write
        write(target, key)

    monkeypatch.delenv("LEDGER_MASTER_KEY", raising=False)
    monkeypatch.setattr(crypto, "write_key_file", another_process_first)
    assert MasterKeySource(path).load(create=True) == theirs
    assert MasterKeySource(path).load() == theirs


@pytest.mark.parametrize("secret", [
    "07700 900123", "+44 7700 900123", "(020) 7946 0018", "0161-496-0000", "01632960961",
    "AB123456C", "ab 12 34 56 c", "05/06/2004", "2004-05-06", "5 May 2004", "May 5th, 2004",
    "6.5.04",
])
def test_redaction_masks_phone_numbers_dates_and_ni_numbers_in_free_text(secret):
    from ledger.privacy.redaction import redact_text
    assert redact_text(f"learner said {secret} today") == "learner said [redacted] today"


@pytest.mark.parametrize("kept", ["ULN 1000000043", "qualification 603/1234/5",
                                  "position 12 of 2026", "IMI-778812"])
def test_redaction_keeps_ulns_qualifications_and_references_in_free_text(kept):
    from ledger.privacy.redaction import redact_text
    assert redact_text(kept) == kept


@given(st.from_regex(r"0[1-9]\d{3} \d{6}", fullmatch=True), st.sampled_from(["", "Tel ", "("]))
@settings(deadline=None)
def test_any_uk_phone_number_in_a_note_is_masked(number, before):
    from ledger.privacy.redaction import redact_text
    assert number not in redact_text(f"note {before}{number} end")
