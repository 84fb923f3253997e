"""Benchmark `book` / `facts_query_s`: every customer's facts in one query.

The book is the demo's (`riskdesk.demo.build_demo_book`, the one synthetic-book generator) at
the issue's size: 100,000*scale customers over 12 months, about 1,000,000*scale invoices (most
of them paid, some late, partly or not at all, a few disputed), payments with and without
named invoices, open orders, and rated usage on the last `USAGE_DAYS` days (the generator's
bulk mode), with more late and non-payers than the demo plants (`SHARES`).

`customer_facts` over the whole book is timed against its limit, the same statement run
through the driver with every row fetched (`limits.bare_facts`): one warm-up each, then best
of three, alternately. Prints nothing on stdout.
"""

from __future__ import annotations

import sys
import time
from datetime import date

from sqlalchemy import text

import limits
from riskdesk.book.facts import customer_facts
from riskdesk.db.engine import make_engine
from riskdesk.demo import build_demo_book

AS_OF = date(2026, 3, 31)
MONTHS = 12
USAGE_DAYS = 7
SEED = 7
# More late and non-payers than the demo's defaults, so that a first collections run has
# most of the book to decide, plan and write: with the demo's shares ~13 % of the customers
# are in a stage on AS_OF, with these about half (the numpy book this replaced had ~60 %).
SHARES = {
    "habitually_late": 0.30,
    "deteriorating": 0.12,
    "defaulting": 0.25,
    "disputing": 0.05,
    "partial_payer": 0.05,
}


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(url: str, scale: float, seed: int = SEED) -> dict[str, int]:
    """Write the demo book at the benchmark's size into the empty database at `url`; returns
    its row counts per table."""
    engine = make_engine(url)
    try:
        summary = build_demo_book(
            engine,
            customers=max(20, int(100_000 * scale)),
            seed=seed,
            as_of=AS_OF,
            months=MONTHS,
            usage_days=USAGE_DAYS,
            shares=SHARES,
        )
        # Fresh statistics (and, on PostgreSQL, the visibility map that index-only scans
        # need), as autovacuum would have them on a book that was not loaded a second ago.
        postgres = engine.dialect.name == "postgresql"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    finally:
        engine.dispose()
    return summary.counts


def sizes(counts: dict[str, int]) -> str:
    n_customers, n_invoices = counts["customers"], counts["invoices"]
    if n_customers >= 1000:
        return f"{n_customers // 1000}k customers / {n_invoices / 1e6:.2g}M invoices"
    return f"{n_customers} customers / {n_invoices} invoices"


def time_facts(url: str, as_of: date = AS_OF, repeat: int = 3) -> tuple[float, float]:
    """Best seconds of `customer_facts` over the whole book, and of the bare statement."""
    engine = make_engine(url)
    bare = limits.bare_facts(engine, as_of)
    try:
        with engine.connect() as conn:
            ours, limit = limits.best_of_pairs(
                lambda: customer_facts(conn, as_of), bare, repeat=repeat
            )
        _note(f"bench book_facts: customer_facts best {ours:.3f} s, bare statement {limit:.3f} s")
    finally:
        bare.close()
        engine.dispose()
    return ours, limit


def run(scale: float, db: str, url: str) -> list[dict]:
    started = time.perf_counter()
    counts = build(url, scale)
    _note(f"bench book_facts: built {counts} in {time.perf_counter() - started:.1f} s")
    seconds, limit = time_facts(url)
    n = sizes(counts)
    return [
        {
            "bench": "book",
            "metric": "facts_query_s",
            "value": round(seconds, 4),
            "unit": "s",
            "target": 2,
            "better": "lower",
            "n": n,
            "db": db,
        },
        limits.figure("book", "facts_query_s", seconds, limit, 4, n, db),
    ]
