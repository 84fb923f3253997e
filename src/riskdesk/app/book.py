"""Use cases over the book: initialise it, look customers up, aging, import a file."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from riskdesk.app.database import init_book as _migrate
from riskdesk.app.database import safe_url
from riskdesk.app.deps import Deps
from riskdesk.book.customers import list_customers as _tagged
from riskdesk.book.detail import CustomerDetail, customer_detail
from riskdesk.book.facts import AgingRow, CustomerFacts, aging_summary, customer_facts
from riskdesk.db.engine import session_scope
from riskdesk.errors import InvalidInputError
from riskdesk.imports import ImportResult
from riskdesk.imports import import_file as _import_file


def init_book(deps: Deps) -> str:
    """Create or upgrade the schema; returns where (password hidden)."""
    _migrate(deps.engine(require_schema=False))
    return safe_url(deps.settings.database_url)


def aging(deps: Deps, as_of: date | None = None) -> tuple[date, list[AgingRow]]:
    day = as_of or deps.today()
    with deps.engine().connect() as connection:
        return day, aging_summary(connection, day)


class CustomerSort(StrEnum):
    EXPOSURE = "exposure"
    OVERDUE = "overdue"
    DAYS = "days"
    NAME = "name"


_SORT_KEYS: dict[CustomerSort, Callable[[CustomerFacts], object]] = {
    CustomerSort.EXPOSURE: lambda f: -f.exposure.amount,
    CustomerSort.OVERDUE: lambda f: -f.overdue_amount.amount,
    CustomerSort.DAYS: lambda f: -f.days_past_due,
    CustomerSort.NAME: lambda f: f.name.lower(),
}


def list_customers(
    deps: Deps,
    *,
    tag: str | None = None,
    sort: CustomerSort = CustomerSort.EXPOSURE,
    limit: int = 50,
    as_of: date | None = None,
) -> tuple[date, list[CustomerFacts]]:
    """Every customer's facts as of a day, optionally only those tagged, sorted, at most `limit`
    (0: all)."""
    day = as_of or deps.today()
    engine = deps.engine()
    with engine.connect() as connection:
        facts = customer_facts(connection, day)
    if tag:
        with session_scope(engine) as session:
            tagged = {c.id for c in _tagged(session, tag=tag)}
        facts = [f for f in facts if f.customer_id in tagged]
    facts.sort(key=_SORT_KEYS[CustomerSort(sort)])  # type: ignore[arg-type]
    return day, facts[:limit] if limit else facts


def show_customer(deps: Deps, customer: str, as_of: date | None = None) -> CustomerDetail:
    day = as_of or deps.today()
    with session_scope(deps.engine()) as session:
        return customer_detail(session, customer, day)


@dataclass(frozen=True)
class ImportRequest:
    kind: str
    path: Path
    skip_bad_rows: bool = False
    reject_file: Path | None = None
    overwrite_reject_file: bool = False  # replace an existing reject file


def import_file(
    deps: Deps,
    request: ImportRequest,
    *,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import one file, all-or-nothing unless bad rows may be skipped (see riskdesk.imports)."""
    from pyarrow import ArrowInvalid

    try:
        return _import_file(
            deps.engine(),
            request.kind,
            request.path,
            skip_bad_rows=request.skip_bad_rows,
            reject_path=request.reject_file,
            overwrite_reject_file=request.overwrite_reject_file,
            progress=progress,
            actor=actor,
            today=deps.today(),
        )
    except (csv.Error, ArrowInvalid) as exc:  # the readers' own errors: not a row's problem
        raise _unreadable(request.path, exc) from None


#: Longer lines than this are named when a file cannot be read (Python's csv field limit).
_LONG_LINE = 131_072


def _unreadable(path: Path, exc: Exception) -> InvalidInputError:
    """One error naming the file and, when one is too long to read, the first such line."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if len(line) > _LONG_LINE:
                return InvalidInputError(
                    f"{path}:{number}: the line is {len(line):,} bytes long and a field holds "
                    f"more than riskdesk reads ({_LONG_LINE:,} characters); nothing was imported"
                )
    return InvalidInputError(f"{path}: cannot be read: {reason}; nothing was imported")
