"""Ed25519 signing keys for checkpoints: make, write owner-only, load, sign and check."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aggregates.errors import ConfigurationError

SIGNING_KEY_ENV = "LEDGER_SIGNING_KEY"
PUBLIC_SUFFIX = ".pub"


def new_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_text(key: Ed25519PublicKey) -> str:
    """A public key as base64 of its 32 raw bytes, as checkpoints carry it."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(public: str) -> str:
    """A short name for a public key (base64 text): the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]


def write_signing_key(path: Path, key: Ed25519PrivateKey) -> Path:
    """Write the private key (PEM, owner-only 0600) and its public key beside it (FILE.pub);
    refuses to overwrite either. Returns the public key's path."""
    public_path = path.with_name(path.name + PUBLIC_SUFFIX)
    for existing in (path, public_path):
        if existing.exists():
            raise ConfigurationError(f"{existing} exists; a key file is never overwritten")
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        _write_new(path, private_pem, 0o600)
        _write_new(public_path, public_pem, 0o644)
    except OSError as error:
        raise ConfigurationError(f"cannot write the key file {path}: {error.strerror}") from None
    return public_path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # whatever the umask


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file written by `ledger keygen --signing`."""
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path} holds no unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} holds a private key that is not Ed25519")
    return key


def load_public_key(path: Path) -> str:
    """The public key (base64 of its raw bytes) of a PEM public or private key file."""
    data = _read(path)
    if b"PRIVATE KEY" in data:
        return public_text(load_signing_key(path).public_key())
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path} holds no PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{path} holds a public key that is not Ed25519")
    return public_text(key)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read the key file {path}: {error.strerror}") from None


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    """The base64 Ed25519 signature of `data`."""
    return base64.b64encode(key.sign(data)).decode()


def signature_holds(public: str, data: bytes, signature: str) -> bool:
    """Whether `signature` (base64) is the signature of `data` by `public` (base64 raw key)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True))
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
