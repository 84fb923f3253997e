"""A realistic synthetic reseller book with planted non-payers, misuse and fraud.

`build_demo_book` fills an empty, migrated book: customers, subscriptions, monthly invoices
and their lines, payments and allocations, daily rated usage, orders, and one audit event.
The same seed and `as_of` give exactly the same book. What was planted (late payers,
defaulters, GPU bursts, sign-up fraud ...) is written to a ground-truth JSON file that
detectors and the collections engine are evaluated against; docs/demo.md describes both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.book.payments import refresh_settlement
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.models import Base, Customer
from riskdesk.demo.generate import Book, generate_book
from riskdesk.errors import RiskdeskError

__all__ = ["Book", "DemoSummary", "build_demo_book", "generate_book", "load_truth"]

Progress = Callable[[str, int, int], None]

# Parents before children, so foreign keys hold at every insert.
TABLE_ORDER = (
    "customers",
    "subscriptions",
    "invoices",
    "invoice_lines",
    "payments",
    "payment_allocations",
    "usage_records",
    "orders",
)
_CHUNK = 50_000


@dataclass
class DemoSummary:
    """What `build_demo_book` wrote: rows per table and customers per planted behaviour."""

    seed: int
    as_of: date
    book_start: date
    months: int
    customers: int
    counts: dict[str, int] = field(default_factory=dict)
    behaviours: dict[str, int] = field(default_factory=dict)
    truth_path: str | None = None
    seconds: float = 0.0


def build_demo_book(
    engine: Engine,
    *,
    customers: int = 2000,
    seed: int = 7,
    as_of: date | None = None,
    months: int = 12,
    truth_path: Path | None = None,
    progress: Progress | None = None,
    usage_days: int | None = None,
    shares: Mapping[str, float] | None = None,
) -> DemoSummary:
    """Fill the empty, migrated book behind `engine` with a synthetic reseller book.

    The book covers the `months` calendar months before `as_of`'s month (invoiced) and the
    days of `as_of`'s month before `as_of` (unbilled usage, open orders). `as_of` defaults
    to today in UTC. Everything is written in one transaction with the `demo.generated`
    audit event; the ground truth goes to `truth_path` when given. `usage_days` is the
    generator's bulk mode for benchmark-sized books and `shares` overrides the share of
    customers per planted behaviour (see `generate_book`).
    """
    started = time.perf_counter()
    day = as_of or datetime.now(UTC).date()
    report = progress or (lambda stage, done, total: None)
    report("generating book", 0, 1)
    book = generate_book(
        customers=customers,
        seed=seed,
        as_of=day,
        months=months,
        usage_days=usage_days,
        shares=shares,
    )
    report("generating book", 1, 1)
    counts = {name: len(book.tables[name][1]) for name in TABLE_ORDER}
    behaviours: dict[str, int] = {}
    for record in book.truth:
        behaviours[record["behaviour"]] = behaviours.get(record["behaviour"], 0) + 1
    behaviours = dict(sorted(behaviours.items()))
    total_rows = sum(counts.values())
    done = 0
    with engine.begin() as connection:
        existing = connection.execute(select(func.count()).select_from(Customer.__table__))
        if existing.scalar():
            raise RiskdeskError("the book already has customers; the demo needs an empty database")
        for name in TABLE_ORDER:
            columns, rows = book.tables[name]
            table = Base.metadata.tables[name]
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                bulk_insert(connection, table, columns, chunk)
                done += len(chunk)
                report("writing rows", done, total_rows)
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection, [n for n in TABLE_ORDER if counts[n]])
        report("settling invoices", 0, 1)
        refresh_settlement(connection)  # the allocations above were written directly
        report("settling invoices", 1, 1)
        session = Session(bind=connection)
        audit.record(
            session,
            actor="demo",
            action="demo.generated",
            subject_type="book",
            data={
                "seed": seed,
                "as_of": day.isoformat(),
                "months": months,
                "customers": customers,
                **({"usage_days": usage_days} if usage_days is not None else {}),
                **({"shares": dict(shares)} if shares else {}),
                "counts": counts,
                "behaviours": behaviours,
            },
        )
        session.close()
    truth_file = None
    if truth_path is not None:
        truth_file = Path(truth_path)
        truth_file.write_text(json.dumps(book.truth_document(customers), indent=2) + "\n")
    counts["audit_events"] = 1
    return DemoSummary(
        seed=seed,
        as_of=day,
        book_start=book.book_start,
        months=months,
        customers=customers,
        counts=counts,
        behaviours=behaviours,
        truth_path=str(truth_file) if truth_file else None,
        seconds=round(time.perf_counter() - started, 3),
    )


def _advance_sequences(connection, tables: list[str]) -> None:
    """Rows were written with explicit ids: move each id sequence past them (PostgreSQL)."""
    for name in tables:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT MAX(id) FROM {name}))"
            )
        )


def load_truth(path: Path) -> dict:
    """Read a truth file written by `build_demo_book`."""
    return json.loads(Path(path).read_text())
