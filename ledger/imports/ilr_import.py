"""`ledger import FILE.xml`: an ILR file through the CSV import's checking and writing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aggregates.values import parse_centre
from ledger.bulk.progress import Progress
from ledger.imports.aims import AimEntry, load_aims
from ledger.imports.ilr import IlrSource, named_problems
from ledger.imports.problems import ImportRefused
from ledger.imports.runner import ImportOptions, ImportSummary, import_source

if TYPE_CHECKING:
    from ledger.app import LedgerApp


def is_ilr(path: Path) -> bool:
    """Whether the file is imported as ILR XML (by its name, or its first bytes)."""
    if path.suffix.lower() == ".xml":
        return True
    try:
        with path.open("rb") as handle:
            start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return start.startswith(b"<")


def import_ilr(app: LedgerApp, path: Path, aims_file: Path | None, centre: str | None,
               options: ImportOptions, progress: Progress | None = None) -> ImportSummary:
    """Import an ILR file; every problem names its learner, delivery and element."""
    aims: dict[str, AimEntry] = {}
    if aims_file is not None:
        aims = load_aims(aims_file, frozenset(options.known_bodies))
    source = IlrSource(path, aims, parse_centre(centre) if centre else None)
    name = options.source_name or path.name
    try:
        source.header()
        summary = import_source(app, source, name, options, progress,
                                layout=f"ILR {source.year}")
    except ImportRefused as refused:
        if refused.problems and source.year:
            refused = ImportRefused(str(refused), named_problems(path, refused.problems))
        raise refused from None
    summary.skipped = named_problems(path, summary.skipped)
    return summary

