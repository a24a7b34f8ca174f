"""The master key and AES-GCM: where the key comes from, how keys and data are sealed."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aggregates.errors import ConfigurationError, LedgerError

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_ENV = "LEDGER_MASTER_KEY"
MASTER_KEY_FILE_ENV = "LEDGER_MASTER_KEY_FILE"
KEYGEN_HINT = "create one with `ledger keygen`"


class KeyUnavailable(LedgerError):
    """Personal data must be read or written, but no usable master key is configured."""


class WrongMasterKey(KeyUnavailable):
    """The configured master key is not the one that sealed this ledger's learner keys."""


class LearnerErased(LedgerError):
    """The learner's key was destroyed: their personal data is gone for good."""


class ErasureNotPermitted(LedgerError):
    """Only the ledger's owner may destroy learner keys."""


class OpenFailed(Exception):
    """Ciphertext could not be opened with the key given (wrong key or altered bytes)."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """A key as the base64 text that LEDGER_MASTER_KEY and key files hold."""
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """A 32-byte key from base64 text, or a ConfigurationError naming where it came from."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{where} is not a base64 32-byte key ({KEYGEN_HINT})")
    return key


_WARNED: set[Path] = set()


def read_key_file(path: Path) -> bytes:
    """The key in a key file, with a warning on stderr (once a process) when its group or
    others may read or write it: whoever reads it can open every learner's personal data."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and path not in _WARNED:
        _WARNED.add(path)
        sys.stderr.write(f"Warning: the key file {path} can be read or written by others than "
                         f"its owner (mode {mode:o}): chmod 600 {path}\n")
    return decode_key(path.read_text(), f"key file {path}")


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    """AES-GCM: a random nonce followed by the ciphertext bound to `context`."""
    nonce = os.urandom(NONCE_BYTES)  # what secrets.token_bytes reads, without its two calls
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    """The plaintext of `seal`, or OpenFailed for a wrong key, context or altered bytes."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
    except (InvalidTag, ValueError) as error:
        raise OpenFailed(str(error)) from None


def write_key_file(path: Path, key: bytes) -> None:
    """Write a key file readable by its owner only, whole or not at all; refuses to overwrite
    one (FileExistsError). The key is written to a file of its own first and then linked in
    place, so another process never reads half a key."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(encode_key(key) + "\n")
            os.link(draft, path)
        finally:
            draft.unlink()
    except FileExistsError:
        raise
    except OSError as error:  # a missing or read-only folder, say
        raise ConfigurationError(f"cannot write the key file {path}: {error.strerror}") from None


@dataclass(frozen=True)
class MasterKeySource:
    """Where the master key is: LEDGER_MASTER_KEY, LEDGER_MASTER_KEY_FILE, or FILE.db.key."""

    default_file: Path | None

    @classmethod
    def for_url(cls, url: str) -> MasterKeySource:
        """An SQLite file ledger defaults to a key file next to it; PostgreSQL has no default."""
        if url.startswith("sqlite:///") and ":memory:" not in url:
            database = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
            return cls(database.with_name(database.name + ".key"))
        return cls(None)

    def describe(self) -> str:
        if os.environ.get(MASTER_KEY_ENV):
            return MASTER_KEY_ENV
        if os.environ.get(MASTER_KEY_FILE_ENV):
            return f"key file {os.environ[MASTER_KEY_FILE_ENV]}"
        if self.default_file is not None:
            return f"key file {self.default_file}"
        return "no master key"

    def load(self, create: bool = False) -> bytes | None:
        """The master key, or None when none is configured (and `create` is false)."""
        text = os.environ.get(MASTER_KEY_ENV, "")
        if text.strip():
            return decode_key(text, MASTER_KEY_ENV)
        named = os.environ.get(MASTER_KEY_FILE_ENV, "").strip()
        if named:
            path = Path(named)
            if not path.is_file():
                raise ConfigurationError(f"{MASTER_KEY_FILE_ENV} names {named!r}, which is no file")
            return read_key_file(path)
        if self.default_file is None:
            return None
        if self.default_file.is_file():
            return read_key_file(self.default_file)
        if not create:
            return None
        key = new_key()
        try:
            write_key_file(self.default_file, key)
        except FileExistsError:  # another process made the ledger's key at the same moment
            return decode_key(self.default_file.read_text(), f"key file {self.default_file}")
        return key
