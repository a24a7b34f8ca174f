"""Reference data the domain checks values against, read from the ledger's own TOML data.

The values (withdrawal reasons, ID documents, LRS codes, placeholder birth dates, the
plausible age range, the longest name) are rules, so they are data: the `[vocabulary]` and
`[data-quality]` tables of `ledger/policies/ledger.toml`. This module reads that file (it
imports nothing of ours) once, when the domain is first imported.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aggregates.errors import ConfigurationError

REFERENCE_FILE = Path(__file__).parents[1] / "ledger" / "policies" / "ledger.toml"
LRS_OUTCOME_NAMES = ("confirmed", "review", "rejected")


@dataclass(frozen=True)
class ReferenceData:
    """The domain's reference values, as the TOML gives them."""

    withdrawal_reasons: tuple[str, ...]
    id_documents: tuple[str, ...]
    lrs_outcomes: dict[str, str]
    lrs_meanings: dict[str, str]
    placeholder_birth_dates: frozenset[date]
    youngest_age: int
    oldest_age: int
    name_max_length: int


def _words(data: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{path}: vocabulary.{key} must be a list of words")
    return tuple(value)


def _whole(data: dict[str, Any], key: str, path: Path) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{path}: data-quality.{key} must be a positive whole number")
    return value


def load_reference(path: Path = REFERENCE_FILE) -> ReferenceData:
    """The reference data in a ledger TOML file, checked."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot be read ({error})") from None
    vocabulary, quality = data.get("vocabulary", {}), data.get("data-quality", {})
    codes = vocabulary.get("lrs_codes", {})
    if not codes or not all(isinstance(spec, dict) and spec.get("outcome") in LRS_OUTCOME_NAMES
                            for spec in codes.values()):
        raise ConfigurationError(f"{path}: vocabulary.lrs_codes must give each code an outcome "
                                 f"({', '.join(LRS_OUTCOME_NAMES)})")
    placeholders = quality.get("placeholder_birth_dates", [])
    if not isinstance(placeholders, list) or not all(
        isinstance(d, date) and not hasattr(d, "hour") for d in placeholders
    ):
        raise ConfigurationError(f"{path}: data-quality.placeholder_birth_dates must be dates")
    youngest, oldest = _whole(quality, "youngest_age", path), _whole(quality, "oldest_age", path)
    if youngest > oldest:
        raise ConfigurationError(f"{path}: data-quality.youngest_age is over oldest_age")
    return ReferenceData(
        withdrawal_reasons=_words(vocabulary, "withdrawal_reasons", path),
        id_documents=_words(vocabulary, "id_documents", path),
        lrs_outcomes={code: spec["outcome"] for code, spec in codes.items()},
        lrs_meanings={code: str(spec.get("meaning", "")) for code, spec in codes.items()},
        placeholder_birth_dates=frozenset(placeholders),
        youngest_age=youngest, oldest_age=oldest,
        name_max_length=_whole(quality, "name_max_length", path),
    )


REFERENCE = load_reference()
