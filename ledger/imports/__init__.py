"""Bulk import of learners and events from CSV files: validate everything, then write in batches."""

from ledger.imports.layouts import EVENTS, MIS_EXPORT, Layout
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.imports.runner import ImportOptions, ImportSummary, import_csv

__all__ = [
    "EVENTS", "MIS_EXPORT", "ImportOptions", "ImportRefused", "ImportSummary", "Layout",
    "RowProblem", "import_csv",
]
