"""Bulk import of learners and events (CSV files, ILR XML files, LRS batch output files):
validate everything, then write in batches; LRS batch request files."""

from ledger.imports.layouts import EVENTS, MIS_EXPORT, Layout
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.imports.runner import ImportOptions, ImportSummary, import_csv

__all__ = [
    "EVENTS", "MIS_EXPORT", "ImportOptions", "ImportRefused", "ImportSummary", "Layout",
    "RowProblem", "import_csv",
]
