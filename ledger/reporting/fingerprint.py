"""The kept report rows' format and the fingerprint of the rule book that judged them.

Apart from `report_rows` so that a report that only reads the kept rows (the light path of
`report_queries.current_report`) checks them without loading the database libraries.
"""

from __future__ import annotations

import hashlib
from dataclasses import is_dataclass, replace
from pathlib import Path
from typing import Any

import holidays

from projections.policy import PolicyLike

# Bump when the judging code changes what it keeps: every learner is judged again.
ROWS_FORMAT = "2"


def rulebook_fingerprint(book: PolicyLike) -> str:
    """What changes a judgement, hashed: the rule sets and the ledger's own rules, centres and
    their nations, the default nation, the holidays package's data and the rows' format."""
    parts = [ROWS_FORMAT, holidays.__version__,
             repr(_without_folders(getattr(book, "versions", None))),
             repr(getattr(book, "common", None)), repr(getattr(book, "centres", None)),
             repr(getattr(book, "default_nation", None))]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _without_folders(versions: Any) -> Any:
    """The rule sets with each file named without its folder: the same rules installed or
    copied elsewhere (another virtualenv, checkout or policies directory) judge the same."""
    if not isinstance(versions, dict):
        return versions
    return {body: [replace(version, path=Path(version.path.name))
                   if is_dataclass(version) and isinstance(getattr(version, "path", None), Path)
                   else version for version in found]
            for body, found in versions.items()}
