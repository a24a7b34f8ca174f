"""Bulk import of learners and events (CSV files, ILR XML files, LRS batch output files):
validate everything, then write in batches; LRS batch request files.

It may import `storage`, `bulk`, `integrity`, `privacy`, `rules` and (for the LRS request)
`reporting`, and takes the application
as an argument (naming it only in annotations)."""

from ledger.imports.layouts import EVENTS, MIS_EXPORT, Layout
from ledger.imports.problems import ImportRefused, RowProblem
from ledger.imports.runner import ImportOptions, ImportSummary, import_csv

__all__ = [
    "EVENTS", "MIS_EXPORT", "ImportOptions", "ImportRefused", "ImportSummary", "Layout",
    "RowProblem", "import_csv",
]
