"""Signed checkpoints kept outside the database, and EQA countersignatures on them.

A checkpoint is the chain's head (position, hash, events chained) with the ledger's id and
the time it was made, signed with the centre's Ed25519 key. Checkpoints are appended, as
JSON lines, to a log outside the database: by default `FILE.db.checkpoints` beside an SQLite
ledger, else the path given (`--checkpoint-log`, LEDGER_CHECKPOINT_LOG). `ledger verify`
checks the ledger against every checkpoint in the log and names the first that no longer
holds: a deleted tail, a rewritten chain, a replaced or emptied database.

An EQA countersigns a checkpoint with their own key (the witness model of Certificate
Transparency) and keeps a copy: a centre cannot then rewrite history behind a head that its
awarding body holds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregates.errors import ConfigurationError, LedgerError
from ledger.integrity.chain import Digest
from ledger.integrity.ledger_id import ledger_id
from ledger.storage.existence import sqlite_path

if TYPE_CHECKING:
    # Signing (`cryptography`'s asymmetric keys) and verifying (the bulk workers,
    # `multiprocessing`) load where a checkpoint is made or checked: every application reads
    # its checkpoint settings when it opens (`AutoCheckpoints.from_env`), and a recording
    # command with no signing key configured never uses them (bench/startup.py).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# The environment variable naming the signing key: `signing.SIGNING_KEY_ENV`, written here so
# that reading the settings loads no signing code (a test checks that the two agree)
SIGNING_KEY_ENV = "LEDGER_SIGNING_KEY"
CHECKPOINT_FORMAT = "ledger-checkpoint/1"
COUNTERSIGNED = b"ledger-countersignature/1\n"
LOG_ENV = "LEDGER_CHECKPOINT_LOG"
EVERY_ENV = "LEDGER_CHECKPOINT_EVERY"
DEFAULT_EVERY = 1000
LOG_SUFFIX = ".checkpoints"


class CheckpointBroken(LedgerError):
    """A checkpoint no longer holds against the ledger, or the checkpoint log was forged."""


class CheckpointNotAppended(LedgerError):
    """Events were recorded, but the automatic checkpoint after them could not be made."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at a moment, signed by the centre."""

    ledger_id: str
    position: int
    hash: str
    events: int
    recorded_at: str
    public_key: str
    signature: str = ""

    def body(self) -> bytes:
        """The exact bytes signed: format, ledger id, position, hash, events, recorded time."""
        return _canonical({"format": CHECKPOINT_FORMAT, "ledger_id": self.ledger_id,
                           "position": self.position, "hash": self.hash,
                           "events": self.events, "recorded_at": self.recorded_at})

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the signed bytes: how a countersignature names its checkpoint."""
        return hashlib.sha256(self.body()).hexdigest()

    @property
    def key_id(self) -> str:
        from ledger.integrity.signing import key_id

        return key_id(self.public_key)

    @property
    def digest(self) -> Digest:
        return Digest(self.position, self.hash, self.events)

    @property
    def signed(self) -> bool:
        """Whether the signature is the one its public key makes over its body."""
        from ledger.integrity.signing import signature_holds

        return signature_holds(self.public_key, self.body(), self.signature)

    def describe(self) -> str:
        return (f"position {self.position}, {self.events} events, recorded {self.recorded_at}, "
                f"key {self.key_id}")

    def as_line(self) -> dict[str, Any]:
        return {"type": "checkpoint", "format": CHECKPOINT_FORMAT, "ledger_id": self.ledger_id,
                "position": self.position, "hash": self.hash, "events": self.events,
                "recorded_at": self.recorded_at, "public_key": self.public_key,
                "signature": self.signature}

    @classmethod
    def from_line(cls, line: dict[str, Any], where: str) -> Checkpoint:
        if line.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointBroken(f"{where}: not a {CHECKPOINT_FORMAT} checkpoint")
        return cls(_text(line, "ledger_id", where), _number(line, "position", where),
                   _text(line, "hash", where), _number(line, "events", where),
                   _text(line, "recorded_at", where), _text(line, "public_key", where),
                   _text(line, "signature", where))


@dataclass(frozen=True)
class Countersignature:
    """An EQA's signature over a checkpoint (named by its fingerprint) and the time signed."""

    checkpoint: str
    position: int
    recorded_at: str
    public_key: str
    signature: str = ""

    @staticmethod
    def signed_bytes(checkpoint: Checkpoint, recorded_at: str) -> bytes:
        return COUNTERSIGNED + checkpoint.body() + b"\n" + recorded_at.encode()

    @property
    def key_id(self) -> str:
        from ledger.integrity.signing import key_id

        return key_id(self.public_key)

    def holds_for(self, checkpoint: Checkpoint) -> bool:
        from ledger.integrity.signing import signature_holds

        return signature_holds(self.public_key, self.signed_bytes(checkpoint, self.recorded_at),
                               self.signature)

    def as_line(self) -> dict[str, Any]:
        return {"type": "countersignature", "checkpoint": self.checkpoint,
                "position": self.position, "recorded_at": self.recorded_at,
                "public_key": self.public_key, "signature": self.signature}

    @classmethod
    def from_line(cls, line: dict[str, Any], where: str) -> Countersignature:
        return cls(_text(line, "checkpoint", where), _number(line, "position", where),
                   _text(line, "recorded_at", where), _text(line, "public_key", where),
                   _text(line, "signature", where))


def _text(line: dict[str, Any], name: str, where: str) -> str:
    value = line.get(name)
    if not isinstance(value, str) or not value:
        raise CheckpointBroken(f"{where}: {name!r} is missing or not text")
    return value


def _number(line: dict[str, Any], name: str, where: str) -> int:
    value = line.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointBroken(f"{where}: {name!r} is missing or not a whole number")
    return value


Entry = Checkpoint | Countersignature


# ----- the log ------------------------------------------------------------------------------

def log_path(url: str, given: str | Path | None = None) -> Path | None:
    """The checkpoint log: as given, else LEDGER_CHECKPOINT_LOG, else FILE.db.checkpoints
    beside an SQLite ledger; None for a server database with none configured."""
    named = str(given or os.environ.get(LOG_ENV, "")).strip()
    if named:
        return Path(named)
    database = sqlite_path(url)
    return None if database is None else database.with_name(database.name + LOG_SUFFIX)


def read_log(path: Path) -> list[tuple[int, Entry]]:
    """Every entry of a checkpoint log with its line number; a missing log has none."""
    try:
        raw_lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise CheckpointBroken(f"cannot read the checkpoint log {path}: {error.strerror}") \
            from None
    entries: list[tuple[int, Entry]] = []
    for number, raw in enumerate(raw_lines, start=1):
        where = f"line {number} of {path}"
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            raise CheckpointBroken(f"{where}: not valid JSON: the log was edited") from None
        kind = line.get("type") if isinstance(line, dict) else None
        if kind == "checkpoint":
            entries.append((number, Checkpoint.from_line(line, where)))
        elif kind == "countersignature":
            entries.append((number, Countersignature.from_line(line, where)))
        else:
            raise CheckpointBroken(f"{where}: neither a checkpoint nor a countersignature")
    return entries


def append_entries(path: Path, entries: Iterable[Entry]) -> None:
    """Append entries to a log, one JSON line each, and flush them to disk."""
    data = b"".join(_canonical(entry.as_line()) + b"\n" for entry in entries)
    try:
        with path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise ConfigurationError(
            f"cannot append to the checkpoint log {path}: {error.strerror}") from None


def latest_checkpoint(entries: Sequence[tuple[int, Entry]]) -> Checkpoint | None:
    checkpoints = [entry for _, entry in entries if isinstance(entry, Checkpoint)]
    return checkpoints[-1] if checkpoints else None


# ----- making checkpoints -------------------------------------------------------------------

def sign_checkpoint(app: Any, key: Ed25519PrivateKey, head: Digest | None = None) -> Checkpoint:
    """A checkpoint of the ledger's head (or of `head`, a digest of it), signed with `key`."""
    from ledger.integrity.signing import public_text, sign
    from ledger.integrity.verify import chained_recorder, head_digest

    head = head or head_digest(chained_recorder(app))
    identity = ledger_id(app.engine)
    if identity is None:
        raise ConfigurationError("this ledger has no ledger id: open it once as its owner")
    unsigned = Checkpoint(identity, head.position, head.hash, head.events, _now(),
                          public_text(key.public_key()))
    return replace(unsigned, signature=sign(key, unsigned.body()))


def countersign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> Countersignature:
    """An EQA's countersignature of a checkpoint that holds."""
    from ledger.integrity.signing import public_text, sign

    moment = _now()
    return Countersignature(checkpoint.fingerprint, checkpoint.position, moment,
                            public_text(key.public_key()),
                            sign(key, Countersignature.signed_bytes(checkpoint, moment)))


# ----- checking the ledger against a log ----------------------------------------------------

@dataclass(frozen=True)
class LogCheck:
    """What checking a log proved: how many checkpoints and countersignatures hold."""

    path: Path
    checkpoints: int
    countersignatures: int
    latest: Checkpoint | None
    witnesses: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        if self.latest is None:
            return f"Checkpoints: none in {self.path}."
        text = (f"Checkpoints: {_count(self.checkpoints, 'hold')} in {self.path}; the latest "
                f"at {self.latest.describe()}.")
        if self.countersignatures:
            text += (f"\nCountersignatures: {_count(self.countersignatures, 'hold')} "
                     f"(key {', '.join(self.witnesses)}).")
        return text


def _count(number: int, verb: str) -> str:
    return f"{number} {verb}" if number != 1 else f"1 {verb}s"


def check_log(app: Any, path: Path, trusted: Sequence[str] = (),
              witnesses: Sequence[str] = ()) -> LogCheck:
    """Check the ledger against every entry of a checkpoint log, in order; raise
    CheckpointBroken naming the first that does not hold.

    Call it on a ledger whose chain verifies (`verify_ledger`): a checkpoint is compared with
    the chain entry at its position, which the verified chain ties to the stored events.
    `trusted` are the centre's public keys (base64); none given, the log's first checkpoint's
    key is the centre's. `witnesses` are EQA keys: each must have countersigned a checkpoint.
    """
    from ledger.integrity.signing import key_id

    entries = read_log(path)
    identity = ledger_id(app.engine)
    keys = set(trusted)
    seen: dict[str, Checkpoint] = {}
    countersigned: list[str] = []
    index = 0
    for number, entry in entries:
        if isinstance(entry, Countersignature):
            _check_countersignature(entry, seen, f"the countersignature on line {number} of "
                                                 f"{path}")
            countersigned.append(entry.key_id)
            continue
        index += 1
        name = (f"checkpoint {index} (line {number} of {path}: position {entry.position}, "
                f"recorded {entry.recorded_at})")
        keys = keys or {entry.public_key}
        _check_signed(entry, keys, name)
        _check_holds(app, entry, identity, name)
        seen[entry.fingerprint] = entry
    for witness in witnesses:
        if key_id(witness) not in countersigned:
            raise CheckpointBroken(f"no checkpoint in {path} is countersigned by key "
                                   f"{key_id(witness)}")
    return LogCheck(path, index, len(countersigned), latest_checkpoint(entries),
                    tuple(dict.fromkeys(countersigned)))


def check_kept_log(app: Any, path: Path | None, required: bool, trusted: Sequence[str] = (),
                   witnesses: Sequence[str] = ()) -> LogCheck | None:
    """`check_log` on the ledger's log, if it keeps one: None when there is no log and none
    was asked for by name (`required`); witnesses need a log."""
    if path is None or not path.exists():
        if required:
            raise CheckpointBroken(f"no checkpoint log at {path}")
        if witnesses:
            raise CheckpointBroken("a witness key needs a checkpoint log (--checkpoint-log)")
        return None
    return check_log(app, path, trusted, witnesses)


def as_broken_checkpoint(error: LedgerError, path: Path | None) -> LedgerError:
    """A database that is no ledger (`NotALedger`), named as the first checkpoint it breaks
    when the log has one: the tables were dropped, or the file removed or emptied."""
    entries = read_log(path) if path is not None else []
    first = next((entry for _, entry in entries if isinstance(entry, Checkpoint)), None)
    if first is None:
        return error
    return CheckpointBroken(f"checkpoint 1 of {path} ({first.describe()}) no longer holds: "
                            f"{error}")


def _check_signed(checkpoint: Checkpoint, keys: set[str], name: str) -> None:
    from ledger.integrity.signing import key_id

    if not checkpoint.signed:
        raise CheckpointBroken(f"{name}: its signature does not hold: the log was edited")
    if checkpoint.public_key not in keys:
        raise CheckpointBroken(
            f"{name}: signed by key {checkpoint.key_id}, not the centre's key "
            f"({', '.join(sorted(key_id(k) for k in keys))}): the log was forged")


def _check_holds(app: Any, checkpoint: Checkpoint, identity: str | None, name: str) -> None:
    from ledger.integrity.verify import chained_recorder, digest_at, head_digest

    if checkpoint.ledger_id != identity:
        found = f"ledger {identity}" if identity else "a database with no ledger id"
        raise CheckpointBroken(
            f"{name} no longer holds: it is of ledger {checkpoint.ledger_id}, this is {found}: "
            "the database was replaced")
    if checkpoint.position == 0:
        return
    entry = digest_at(app, checkpoint.position)
    if entry.position != checkpoint.position:
        head = head_digest(chained_recorder(app))
        if head.position < checkpoint.position:
            raise CheckpointBroken(
                f"{name} no longer holds: the ledger ends at position {head.position} "
                f"({head.events} events), before the checkpoint's position: events were "
                "removed from the end")
        raise CheckpointBroken(
            f"{name} no longer holds: the event at position {checkpoint.position} is gone: "
            "events were deleted and the chain rewritten")
    if (entry.hash, entry.events) != (checkpoint.hash, checkpoint.events):
        raise CheckpointBroken(
            f"{name} no longer holds: the history up to position {checkpoint.position} differs "
            f"from the signed one (hash {entry.hash[:16]}... and {entry.events} events, not "
            f"{checkpoint.hash[:16]}... and {checkpoint.events}): events were changed, "
            "removed or added and the chain rewritten")


def _check_countersignature(entry: Countersignature, seen: dict[str, Checkpoint],
                            name: str) -> None:
    checkpoint = seen.get(entry.checkpoint)
    if checkpoint is None:
        raise CheckpointBroken(f"{name} names no checkpoint before it in the log")
    if not entry.holds_for(checkpoint):
        raise CheckpointBroken(f"{name} (key {entry.key_id}) does not hold: the log was edited")


# ----- automatic checkpoints ----------------------------------------------------------------

@dataclass
class AutoCheckpoints:
    """Append a checkpoint after every `every` events recorded (positions, which on
    PostgreSQL can skip numbers: so at most `every` events apart), and after every import,
    when a signing key is configured (LEDGER_SIGNING_KEY; LEDGER_CHECKPOINT_EVERY, default
    1000). Each process counts from the latest checkpoint in the log when it first records."""

    key_path: Path | None
    log: Path | None
    every: int = DEFAULT_EVERY
    _last_position: int | None = None
    _key: Ed25519PrivateKey | None = None

    @classmethod
    def from_env(cls, url: str) -> AutoCheckpoints:
        key = os.environ.get(SIGNING_KEY_ENV, "").strip()
        text = os.environ.get(EVERY_ENV, "").strip() or str(DEFAULT_EVERY)
        if not text.isdigit() or int(text) < 1:
            raise ConfigurationError(f"{EVERY_ENV} must be a whole number of events, 1 or "
                                     f"more, not {text!r}")
        return cls(Path(key) if key else None, log_path(url), int(text))

    @property
    def enabled(self) -> bool:
        return self.key_path is not None and self.log is not None

    def after_recording(self, app: Any, position: int | None = None,
                        force: bool = False) -> Checkpoint | None:
        """Append a checkpoint if one is due: `position` (the last event just saved) is
        `every` or more past the latest checkpoint's; or, with `force` (after an import),
        if anything was recorded since. The chain's head is read only when one is due."""
        if self.key_path is None or self.log is None:
            return None
        if self._last_position is None:
            latest = latest_checkpoint(read_log(self.log))
            self._last_position = 0 if latest is None else latest.position
        if position is not None and position - self._last_position < self.every and not force:
            return None
        from ledger.integrity.signing import load_signing_key
        from ledger.integrity.verify import chained_recorder, head_digest

        head = head_digest(chained_recorder(app))
        new = head.position - self._last_position
        if new <= 0 or (not force and new < self.every):
            return None
        try:
            if self._key is None:
                self._key = load_signing_key(self.key_path)
            checkpoint = sign_checkpoint(app, self._key, head)
            append_entries(self.log, [checkpoint])
        except LedgerError as error:
            raise CheckpointNotAppended(
                f"the events were recorded (up to position {head.position}), but no "
                f"checkpoint was appended: {error}") from error
        self._last_position = head.position
        return checkpoint


def signer_for(key_path: Path | None, log: Path | None
               ) -> Callable[[Any, Digest], Checkpoint | None]:
    """What an export embeds: a checkpoint of its head signed now (appended to the log) when
    a key is given, else the log's latest checkpoint at or before the head, if any."""

    def checkpoint_for(app: Any, head: Digest) -> Checkpoint | None:
        if key_path is not None:
            from ledger.integrity.signing import load_signing_key

            checkpoint = sign_checkpoint(app, load_signing_key(key_path), head)
            if log is not None:
                append_entries(log, [checkpoint])
            return checkpoint
        if log is None:
            return None
        earlier = [entry for _, entry in read_log(log)
                   if isinstance(entry, Checkpoint) and entry.position <= head.position]
        return earlier[-1] if earlier else None

    return checkpoint_for
