"""The outcome of one import."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from riskdesk.imports.errors import RowError


@dataclass
class ImportResult:
    kind: str
    file: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0  # already in the book (or, for invoices, lines of a known invoice)
    rows_updated: int = 0  # already in the book and changed by the file (subscriptions)
    rows_rejected: int = 0
    reject_path: Path | None = None
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The reseller files' columns riskdesk does not read, as spelled in the header.
    ignored_columns: list[str] = field(default_factory=list)
