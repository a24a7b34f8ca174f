"""EQA bundles: one centre's events with the chain that proves them, checkable with no database.

A bundle is JSON lines:

1. `{"type": "bundle", ...}`: format, centre, date range, the ledger's head digest.
2. `{"type": "rule-set", ...}`: each rule-set file (ledger/policies/*.toml) with its SHA-256.
3. From the centre's first included event to the head, one line per chain entry, in order:
   `{"type": "event", ...}` for an included event (its stored content, content hash, the
   previous hash and its own chained hash), `{"type": "link", ...}` for any other event
   (position, seq and content hash only: no content of other centres' learners).
4. `{"type": "end", ...}`: counts and the SHA-256 of every byte before this line.

Anyone can recompute every hash from the first included event's `previous` to the digest.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from eventsourcing.persistence import StoredEvent

from aggregates.errors import LedgerError, UnknownLearner
from ledger.bulk.progress import NoProgress, Progress
from ledger.integrity.chain import (
    GENESIS,
    HASH_VERSION,
    STAMPED_HASH_VERSION,
    Digest,
    content_hash,
    link_hash,
)
from ledger.integrity.checkpoints import Checkpoint, CheckpointBroken
from ledger.integrity.verify import LedgerTampered, chain_entries, chained_recorder, verify_ledger

BUNDLE_FORMAT = "ledger-bundle/1"
PROGRESS_EVERY = 1_000  # chain entries between two updates of the progress bar
POLICIES_DIR = Path(__file__).parents[1] / "policies"
LEARNER_TOPIC_PREFIX = "aggregates.learner:Learner."
RECORDED_TOPIC = LEARNER_TOPIC_PREFIX + "Recorded"


class BadBundle(LedgerError):
    """A bundle does not verify: which line, and why."""


@dataclass(frozen=True)
class BundleSummary:
    """What an export wrote, or what a bundle verification proved."""

    centre: str
    events: int
    entries: int
    digest: Digest
    rule_sets: tuple[str, ...]
    start: str | None = None
    end: str | None = None
    checkpoint: Checkpoint | None = None
    checkpoint_note: str = ""


def export_bundle(
    app: Any, centre: str, out: Path, start: date | None = None, end: date | None = None,
    policies: Path = POLICIES_DIR, extra_policies: Path | None = None,
    checkpoint_for: Callable[[Any, Digest], Checkpoint | None] | None = None,
    progress: Progress | None = None,
) -> BundleSummary:
    """Write one centre's events (recorded between start and end, inclusive) as a bundle,
    with the rule-set files the reports use (the shipped ones, overridden by extra ones) and
    the signed checkpoint `checkpoint_for` gives for the bundle's head, if any; `progress`
    follows the verification, then the export, by position."""
    progress = progress or NoProgress()
    verification = verify_ledger(app, progress=progress)
    if verification.problem is not None:
        raise LedgerTampered(verification.problem)
    digest = verification.head
    signed = checkpoint_for(app, digest) if checkpoint_for is not None else None
    rule_sets = rule_set_files(policies, extra_policies)
    header = {
        "type": "bundle", "format": BUNDLE_FORMAT, "centre": centre,
        "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hash_rule": _hash_rule(), "digest": digest.as_dict(),
        "selection": "events of the centre's learners recorded from..to (UTC dates, inclusive)",
    }
    if signed is not None:
        header["checkpoint"] = signed.as_line()
    learners: set[Any] = set()
    events = entries = 0
    with _HashingWriter(out) as writer:
        writer.line(header)
        for path in rule_sets:
            text = path.read_text(encoding="utf-8")
            writer.line({"type": "rule-set", "name": path.name,
                         "sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text})
        started, chained = False, GENESIS
        progress.start("Exporting", digest.position)
        for row, link in chain_entries(chained_recorder(app), digest.position):
            if link.seq % PROGRESS_EVERY == 0:
                progress.update(link.position, link.seq)
            included = _included(app, row, centre, learners, start, end)
            if included:
                writer.line(_event_line(row, link, chained))
                events += 1
            elif started:
                writer.line({"type": "link", "position": link.position, "seq": link.seq,
                             "content_hash": link.content_hash, **_stamp(link)})
            if included or started:
                started, entries = True, entries + 1
            chained = link.hash
        writer.end({"type": "end", "events": events, "entries": entries})
        progress.update(digest.position, digest.events)
    if not learners:
        out.unlink()
        raise UnknownLearner(f"no learner is recorded at centre {centre}")
    return BundleSummary(centre, events, entries, digest, tuple(p.name for p in rule_sets),
                         header["from"], header["to"], signed)


def rule_set_files(shipped: Path, extra: Path | None) -> list[Path]:
    """The rule-set files in force: shipped ones, replaced or added to by the extra folder."""
    files: dict[str, Path] = {}
    for folder in (shipped, extra):
        if folder is not None and folder.is_dir():
            files.update({path.name: path for path in sorted(folder.glob("*.toml"))})
    return [files[name] for name in sorted(files)]


def verify_bundle(path: Path, digest: Digest | None = None,
                  trusted: Sequence[str] = ()) -> BundleSummary:
    """Check a bundle offline: every line, every hash, the chain to its digest, the checksum,
    and the signed checkpoint it carries (signed by one of `trusted`, if given)."""
    lines = _lines(path)
    number, header = _next(lines, "bundle")
    if header.get("format") != BUNDLE_FORMAT:
        raise BadBundle(f"line {number}: not a {BUNDLE_FORMAT} bundle")
    claimed = _digest(header, number)
    signed = _checkpoint(header, number, trusted)
    anchored = False
    if digest is not None and digest.position > claimed.position:
        raise BadBundle(f"the digest given ({digest}) is later than the bundle's {claimed}")
    if digest is not None and digest.position == claimed.position and digest.hash != claimed.hash:
        raise BadBundle(f"the bundle's digest {claimed} is not the digest given ({digest})")
    earlier = digest if digest is not None and digest.position < claimed.position else None
    earlier_seen = False
    rule_sets: list[str] = []
    running: str | None = None
    last_seq = last_position = None
    events = entries = 0
    checksum = hashlib.sha256()
    checksum.update(header["_raw"])
    for number, line in lines:
        kind = line.get("type")
        if kind == "end":
            for extra, _ in lines:
                raise BadBundle(f"line {extra}: text after the end line")
            if earlier is not None and not earlier_seen:
                raise BadBundle(f"position {earlier.position} of the digest given is not in "
                                "the bundle's chain entries: it cannot be checked against it")
            summary = _finish(line, number, checksum, claimed, running, last_position,
                              events, entries, header, rule_sets)
            return _with_checkpoint(summary, signed, anchored)
        checksum.update(line["_raw"])
        if kind == "rule-set":
            if entries:
                raise BadBundle(f"line {number}: rule set after the events")
            text = _field(line, "text", str, number)
            if hashlib.sha256(text.encode()).hexdigest() != line.get("sha256"):
                raise BadBundle(f"line {number}: rule set {line.get('name')!r} does not match "
                                "its SHA-256: it was edited")
            rule_sets.append(str(line.get("name")))
            continue
        if kind not in ("event", "link"):
            raise BadBundle(f"line {number}: unknown line type {kind!r}")
        position = _field(line, "position", int, number)
        seq = _field(line, "seq", int, number)
        where = f"line {number} (position {position})"
        if last_seq is not None and (seq != last_seq + 1 or position <= (last_position or 0)):
            raise BadBundle(f"{where}: out of order: seq {seq} after {last_seq}, position "
                            f"{position} after {last_position}: an entry was removed or moved")
        if kind == "event":
            previous = _field(line, "previous", str, number)
            if running is not None and previous != running:
                raise BadBundle(f"{where}: its previous hash is not the hash before it")
            running = previous
            content = content_hash(
                _field(line, "aggregate_id", str, number), _field(line, "version", int, number),
                _field(line, "topic", str, number), _state(line, number),
            )
            if content != line.get("content_hash"):
                raise BadBundle(f"{where}: the event does not match its content hash: "
                                "it was edited")
            events += 1
        else:
            if running is None:
                raise BadBundle(f"{where}: the chain must start at an event line")
            content = _field(line, "content_hash", str, number)
        try:
            running = link_hash(running, seq, position, content, *_line_stamp(line, number))
        except ValueError:
            raise BadBundle(f"{where}: a hash is not 64 hexadecimal digits") from None
        if kind == "event" and running != line.get("hash"):
            raise BadBundle(f"{where}: the event's chained hash does not follow from the "
                            "hash before it")
        if earlier is not None and position == earlier.position:
            if running != earlier.hash:
                raise BadBundle(f"{where}: the chain's hash here is {running}, not the digest "
                                f"given ({earlier}): the history before it was changed")
            earlier_seen = True
        if signed is not None and position == signed.position:
            if (running, seq) != (signed.hash, signed.events):
                raise BadBundle(f"{where}: the chain here does not match the bundle's signed "
                                f"checkpoint ({signed.describe()}): the history was changed")
            anchored = True
        last_seq, last_position = seq, position
        entries += 1
    raise BadBundle("the bundle has no end line: it was cut short")


def _finish(
    line: dict[str, Any], number: int, checksum: Any, claimed: Digest, running: str | None,
    last_position: int | None, events: int, entries: int, header: dict[str, Any],
    rule_sets: list[str],
) -> BundleSummary:
    if line.get("sha256") != checksum.hexdigest():
        raise BadBundle(f"line {number}: the bundle's checksum does not match: it was edited")
    if (line.get("events"), line.get("entries")) != (events, entries):
        raise BadBundle(f"line {number}: the bundle should hold {line.get('events')} events "
                        f"in {line.get('entries')} entries, it holds {events} in {entries}")
    if running is not None and (running, last_position) != (claimed.hash, claimed.position):
        raise BadBundle(f"the chain ends at position {last_position} with hash {running}, "
                        f"not at the digest {claimed}")
    return BundleSummary(str(header.get("centre")), events, entries, claimed, tuple(rule_sets),
                         header.get("from"), header.get("to"))


def _checkpoint(header: dict[str, Any], number: int,
                trusted: Sequence[str]) -> Checkpoint | None:
    """The bundle's signed checkpoint, if it carries one, with its signature checked."""
    line = header.get("checkpoint")
    if line is None:
        if trusted:
            raise BadBundle(f"line {number}: the bundle carries no signed checkpoint")
        return None
    try:
        signed = Checkpoint.from_line(line if isinstance(line, dict) else {}, f"line {number}")
    except CheckpointBroken as error:
        raise BadBundle(f"the bundle's checkpoint: {error}") from None
    if not signed.signed:
        raise BadBundle(f"line {number}: the bundle's checkpoint signature does not hold: "
                        "it was edited")
    if trusted and signed.public_key not in trusted:
        raise BadBundle(f"line {number}: the bundle's checkpoint is signed by key "
                        f"{signed.key_id}, not by the centre's key given")
    return signed


def _with_checkpoint(summary: BundleSummary, signed: Checkpoint | None,
                     anchored: bool) -> BundleSummary:
    """The summary with what the checkpoint proved: its hash is the chain's, or (before the
    bundle's first entry) only its signature could be checked."""
    if signed is None:
        return summary
    if signed.position > summary.digest.position:
        raise BadBundle(f"the bundle's checkpoint ({signed.describe()}) is beyond its digest "
                        f"{summary.digest}")
    note = ("the bundle's chain reaches its hash" if anchored else
            "it is before the bundle's first chain entry, so only its signature is checked")
    return replace(summary, checkpoint=signed, checkpoint_note=note)


def _hash_rule() -> str:
    return (f"content_hash = sha256({HASH_VERSION.decode()} || len8(aggregate_id) || "
            "len8(version) || len8(topic) || len8(state)); hash = sha256("
            f"{HASH_VERSION.decode()} || previous(32 bytes) || seq(8) || position(8) || "
            "content_hash(32)) for an entry without recorded_by, else sha256("
            f"{STAMPED_HASH_VERSION.decode()} || previous(32 bytes) || seq(8) || position(8) "
            "|| content_hash(32) || len8(recorded_by) || recorded_at_us(8)); len8(x) = 8-byte "
            "big-endian length of x, then x; first previous = 64 zeros")


def _stamp(link: Any) -> dict[str, Any]:
    """A chain entry's stamp as a bundle line holds it (nothing for an unstamped entry)."""
    if link.recorded_at_us is None:
        return {}
    return {"recorded_by": link.recorded_by, "recorded_at_us": link.recorded_at_us}


def _line_stamp(line: dict[str, Any], number: int) -> tuple[str | None, int | None]:
    if "recorded_at_us" not in line and "recorded_by" not in line:
        return None, None
    return (_field(line, "recorded_by", str, number),
            _field(line, "recorded_at_us", int, number))


def _included(
    app: Any, row: Any, centre: str, learners: set[Any], start: date | None, end: date | None,
) -> bool:
    if not str(row.topic).startswith(LEARNER_TOPIC_PREFIX):
        return False
    if row.topic != RECORDED_TOPIC and row.originator_id not in learners:
        return False
    # Only the centre and the recorded time are read: no personal value is decrypted.
    event = app.mapper.to_domain_event(StoredEvent(
        originator_id=row.originator_id, originator_version=row.originator_version,
        topic=row.topic, state=_bytes(row.state),
    ), open_personal=False)
    if row.topic == RECORDED_TOPIC:
        if str(event.centre) != centre:
            return False
        learners.add(row.originator_id)
    recorded = event.timestamp.astimezone(UTC).date()
    return (start is None or recorded >= start) and (end is None or recorded <= end)


def _event_line(row: Any, link: Any, previous: str) -> dict[str, Any]:
    state = _bytes(row.state)
    line: dict[str, Any] = {
        "type": "event", "position": link.position, "seq": link.seq,
        "aggregate_id": str(row.originator_id), "version": row.originator_version,
        "topic": row.topic,
    }
    try:
        line["state"] = state.decode("utf-8")
    except UnicodeDecodeError:
        line["state_base64"] = base64.b64encode(state).decode()
    line.update({"content_hash": link.content_hash, "previous": previous, "hash": link.hash,
                 **_stamp(link)})
    return line


class _HashingWriter:
    """Writes compact JSON lines and keeps the SHA-256 of every byte written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checksum = hashlib.sha256()
        self.file: IO[bytes] | None = None

    def __enter__(self) -> _HashingWriter:
        try:
            self.file = self.path.open("wb")
        except OSError as error:
            raise BadBundle(f"cannot write {self.path}: {error.strerror}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.file is not None
        self.file.close()

    def line(self, document: dict[str, Any]) -> None:
        data = _encode(document)
        self.checksum.update(data)
        assert self.file is not None
        self.file.write(data)

    def end(self, document: dict[str, Any]) -> None:
        self.line({**document, "sha256": self.checksum.hexdigest()})


def _encode(document: dict[str, Any]) -> bytes:
    """The exact bytes of a bundle line: compact JSON, UTF-8, ending in a newline."""
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open("rb")
    except OSError as error:
        raise BadBundle(f"cannot read {path}: {error.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                document = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise BadBundle(f"line {number}: not valid JSON: the bundle was edited") from None
            if not isinstance(document, dict):
                raise BadBundle(f"line {number}: not a JSON object")
            if _encode(document) != raw:
                raise BadBundle(f"line {number}: not in the bundle's exact form: it was edited")
            document["_raw"] = raw
            yield number, document


def _next(lines: Iterator[tuple[int, dict[str, Any]]], kind: str) -> tuple[int, dict[str, Any]]:
    try:
        number, line = next(lines)
    except StopIteration:
        raise BadBundle("the bundle is empty") from None
    if line.get("type") != kind:
        raise BadBundle(f"line {number}: expected a {kind!r} line")
    return number, line


def _digest(header: dict[str, Any], number: int) -> Digest:
    value = header.get("digest")
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        raise BadBundle(f"line {number}: the bundle has no digest")
    try:
        return Digest.parse(value["digest"])
    except LedgerError:
        raise BadBundle(f"line {number}: the bundle's digest is malformed") from None


def _field(line: dict[str, Any], name: str, kind: type, number: int) -> Any:
    value = line.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadBundle(f"line {number}: {name!r} is missing or not a {kind.__name__}")
    return value


def _state(line: dict[str, Any], number: int) -> bytes:
    if isinstance(line.get("state"), str):
        return str(line["state"]).encode("utf-8")
    try:
        return base64.b64decode(_field(line, "state_base64", str, number), validate=True)
    except ValueError:
        raise BadBundle(f"line {number}: 'state_base64' is not base64") from None


def _bytes(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state
