"""File importers: Partner Center exports and the reseller's own customers, invoices, payments.

    import_file(engine, "pc-usage", Path("usage.csv"), skip_bad_rows=False)

See docs/imports.md for the columns of each kind.
"""

from riskdesk.imports.api import KINDS, default_reject_path, import_file, import_into
from riskdesk.imports.errors import ImportFileError, RowError
from riskdesk.imports.rejects import RejectFileError
from riskdesk.imports.result import ImportResult

__all__ = [
    "KINDS",
    "ImportFileError",
    "ImportResult",
    "RejectFileError",
    "RowError",
    "default_reject_path",
    "import_file",
    "import_into",
]
