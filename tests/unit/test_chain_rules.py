"""The hash rules: any change to any field of an event, or to its place, changes its hash."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from ledger.integrity.chain import GENESIS, BadDigest, Digest, chain_values, content_hash, link_hash
from ledger.integrity.chained_recorder import content_hashes

events = st.tuples(st.uuids(), st.integers(0, 2**40), st.text(max_size=40),
                   st.binary(max_size=64))


@given(events, events)
def test_different_events_have_different_content_hashes(first, second):
    if first != second:
        assert content_hash(*first) != content_hash(*second)


@given(st.text(max_size=10), st.text(max_size=10))
def test_field_boundaries_cannot_be_shifted_to_forge_a_hash(topic, extra):
    uuid = UUID(int=1)
    shifted = content_hash(uuid, 1, topic + extra, b"")
    if extra:
        assert shifted != content_hash(uuid, 1, topic, extra.encode())


@given(st.integers(1, 2**40), st.integers(1, 2**40), st.binary(min_size=32, max_size=32))
def test_a_link_depends_on_its_seq_position_and_previous_hash(seq, position, content):
    base = link_hash(GENESIS, seq, position, content.hex())
    assert base != link_hash("1" * 64, seq, position, content.hex())
    assert base != link_hash(GENESIS, seq + 1, position, content.hex())
    assert base != link_hash(GENESIS, seq, position + 1, content.hex())


def test_a_known_event_hashes_to_a_known_value():
    content = content_hash(UUID(int=0), 1, "t", b"{}")
    assert content == content_hash("00000000-0000-0000-0000-000000000000", 1, "t", b"{}")
    # the stored format: a ledger chained by an earlier version must still verify
    assert content == "0eb1751cda4b20ab91685d8448430378da1bd25709022cd9cbf05b96e6a106e6"
    assert link_hash(GENESIS, 1, 1, content) == (
        "ebbfe9180ccb5edff75f2f909a64683b800d5afc2bb0863e0a751367532a2adb")
    stamped = link_hash(GENESIS, 1, 1, content, "officer", 1_796_000_000_000_000)
    assert stamped == "99337615ca3c474f885599cbe2a7735ed1c7a0c73a16af6ddfd0ccba2b5fb149"
    # the bulk path writes the link out again (chain_values): it must store the same
    assert chain_values((0, GENESIS), [1], [content], "officer", 1_796_000_000_000_000) == [
        1, 1, content, stamped, "officer", 1_796_000_000_000_000]


@given(st.text(max_size=20), st.integers(0, 2**62), st.text(max_size=20), st.integers(0, 2**62))
def test_a_stamped_link_depends_on_its_login_and_recorded_time(login, at, other_login, other_at):
    content, link = "ab" * 32, (GENESIS, 1, 1)
    base = link_hash(*link, content, login, at)
    assert base != link_hash(*link, content)
    assert (base == link_hash(*link, content, other_login, other_at)) == (
        (login, at) == (other_login, other_at))


@given(st.integers(0, 2**40), st.binary(min_size=32, max_size=32),
       st.lists(st.tuples(st.integers(1, 2**40), st.binary(min_size=32, max_size=32)),
                max_size=20))
def test_a_run_of_links_made_at_once_is_each_link_made_on_the_one_before(seq, head, events):
    values = chain_values((seq, head.hex()), [position for position, _ in events],
                          [content.hex() for _, content in events], "clerk", 7)
    expected, previous = [], head.hex()
    for number, (position, content) in enumerate(events, seq + 1):
        previous = link_hash(previous, number, position, content.hex(), "clerk", 7)
        expected += [position, number, content.hex(), previous, "clerk", 7]
    assert values == expected


@given(st.integers(0, 2**62), st.binary(min_size=32, max_size=32))
def test_a_digest_prints_and_parses_back(position, raw):
    digest = Digest(position, raw.hex())
    assert Digest.parse(str(digest)) == digest
    assert Digest.parse(f"  {str(digest).upper()} ") == digest


@pytest.mark.parametrize("text", ["", "12", "12:abc", "x:" + "a" * 64, "-1:" + "a" * 64])
def test_a_malformed_digest_is_refused(text):
    with pytest.raises(BadDigest, match="is not POSITION:HASH"):
        Digest.parse(text)


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 9), st.binary(max_size=16)),
                max_size=12))
def test_a_batch_s_content_hashes_are_each_event_s_whatever_the_runs_of_its_ids(drawn):
    """`content_hashes` frames an id once for each run of one id object: equal ids in other
    objects, and an id that comes back after another, are framed again, never mixed up."""
    pool = [UUID(int=1), UUID(int=2), UUID(int=1)]  # the first and last equal, not the same
    events = [StoredEvent(originator_id=pool[which], originator_version=version,
                          topic="tests:Event", state=state) for which, version, state in drawn]
    assert content_hashes(events) == [
        content_hash(e.originator_id, e.originator_version, e.topic, e.state) for e in events]
