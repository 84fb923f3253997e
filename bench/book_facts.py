"""Benchmark `book` / `facts_query_s`: every customer's facts in one query.

Builds a book of 100,000*scale customers and 1,000,000*scale invoices (most of them paid, a
few partly, some with a named invoice), rated usage and open orders straight into an empty,
migrated database with numpy and `bulk_insert`, then times `customer_facts` over the whole
book: one warm-up, best of three. Prints nothing on stdout.
"""

from __future__ import annotations

import sys
import time
from datetime import date

import numpy as np
from sqlalchemy import text

from riskdesk.book.facts import customer_facts
from riskdesk.book.payments import refresh_settlement
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.engine import make_engine
from riskdesk.db.models import Customer, Invoice, Order, Payment, PaymentAllocation, UsageRecord

AS_OF = date(2026, 3, 31)
_EPOCH = np.datetime64("1970-01-01", "D")


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _days(values: np.ndarray) -> list[str]:
    """ISO dates for day numbers since 1970-01-01 (the storage form SQLite keeps)."""
    return (values.astype("datetime64[D]")).astype(str).tolist()


def _day_number(day: date) -> int:
    return int((np.datetime64(day, "D") - _EPOCH).astype(int))


def build(url: str, scale: float, seed: int = 7) -> dict[str, int]:
    """Write a synthetic book into the empty database at `url`; returns row counts."""
    rng = np.random.default_rng(seed)
    n_customers = max(10, int(100_000 * scale))
    n_invoices = max(100, int(1_000_000 * scale))
    end = _day_number(AS_OF)

    # Customers: 85 % EUR, the rest USD; most with a credit limit.
    cust_ids = np.arange(1, n_customers + 1)
    currency = np.where(rng.random(n_customers) < 0.85, "EUR", "USD")
    limits = (rng.integers(1, 200, n_customers) * 1_000 * 1_000_000).astype(np.int64)
    has_limit = rng.random(n_customers) < 0.8
    credit_limits = [
        int(v) if h else None for v, h in zip(limits.tolist(), has_limit.tolist(), strict=True)
    ]
    customers = list(
        zip(
            cust_ids.tolist(),
            [f"tenant-{i:08d}" for i in cust_ids.tolist()],
            [f"Customer {i}" for i in cust_ids.tolist()],
            currency.tolist(),
            [30] * n_customers,
            ["[]"] * n_customers,
            ["2024-01-01"] * n_customers,
            credit_limits,
            strict=True,
        )
    )

    # Invoices: each customer gets a run of monthly invoices ending near AS_OF.
    per = rng.multinomial(n_invoices, np.full(n_customers, 1 / n_customers))
    inv_customer = np.repeat(cust_ids, per)
    rank = np.arange(n_invoices) - np.repeat(np.cumsum(per) - per, per)  # 0 = newest
    issued = end - 5 - rank * 30 - rng.integers(0, 5, n_invoices)
    due = issued + 30
    period_end = issued - 1
    totals = rng.integers(1_000, 500_000, n_invoices).astype(np.int64) * 10_000  # cents
    inv_ids = np.arange(1, n_invoices + 1)
    inv_currency = currency[inv_customer - 1]
    disputed = rng.random(n_invoices) < 0.01
    invoices = list(
        zip(
            inv_ids.tolist(),
            inv_customer.tolist(),
            [f"INV-{i:09d}" for i in inv_ids.tolist()],
            _days(issued),
            _days(due),
            _days(period_end - 29),
            _days(period_end),
            inv_currency.tolist(),
            totals.tolist(),
            disputed.tolist(),
            strict=True,
        )
    )

    # Payments: older invoices are paid (a few partly), recent ones often not yet.
    received = issued + rng.integers(10, 70, n_invoices)
    paid_mask = (received <= end) & (rng.random(n_invoices) < 0.93)
    partial = rng.random(n_invoices) < 0.05
    amount = np.where(partial, totals // 20_000 * 10_000, totals)
    pay_inv = inv_ids[paid_mask]
    n_pay = len(pay_inv)
    pay_ids = np.arange(1, n_pay + 1)
    pay_amount = amount[paid_mask]
    pay_received = received[paid_mask]
    payments = list(
        zip(
            pay_ids.tolist(),
            inv_customer[paid_mask].tolist(),
            [f"PAY-{i:09d}" for i in pay_ids.tolist()],
            _days(pay_received),
            inv_currency[paid_mask].tolist(),
            pay_amount.tolist(),
            ["transfer"] * n_pay,
            ["[]"] * n_pay,
            strict=True,
        )
    )
    allocations = list(
        zip(
            pay_ids.tolist(),
            pay_inv.tolist(),
            _days(pay_received),
            pay_amount.tolist(),
            strict=True,
        )
    )
    # Some unapplied credit: one in a hundred customers paid on account.
    extra = rng.choice(cust_ids, max(1, n_customers // 100), replace=False)
    for k, cid in enumerate(extra.tolist(), start=n_pay + 1):
        payments.append(
            (
                k,
                cid,
                f"PAY-{k:09d}",
                AS_OF.isoformat(),
                str(currency[cid - 1]),
                50_000_000,
                "card",
                "[]",
            )
        )

    # Usage: rated daily usage over the last 60 days for a fifth of the customers.
    n_usage = max(10, int(300_000 * scale))
    use_customer = rng.choice(cust_ids[: max(1, n_customers // 5)], n_usage)
    use_day = end - rng.integers(0, 60, n_usage)
    usage = list(
        zip(
            use_customer.tolist(),
            ["plan"] * n_usage,
            _days(use_day),
            ["meter"] * n_usage,
            [1.0] * n_usage,
            currency[use_customer - 1].tolist(),
            rng.integers(1, 50_000_000, n_usage).tolist(),
            np.arange(1, n_usage + 1).tolist(),
            strict=True,
        )
    )

    # Orders: a few per hundred customers, most open.
    n_orders = max(10, int(50_000 * scale))
    ord_customer = rng.choice(cust_ids, n_orders)
    ord_status = np.where(rng.random(n_orders) < 0.7, "open", "invoiced")
    ord_day = end - rng.integers(0, 40, n_orders)
    orders = list(
        zip(
            ord_customer.tolist(),
            [f"ord-{i}" for i in range(n_orders)],
            [f"{d} 12:00:00.000000" for d in _days(ord_day)],
            ["offer"] * n_orders,
            [1] * n_orders,
            currency[ord_customer - 1].tolist(),
            (rng.integers(1, 5_000, n_orders) * 1_000_000).tolist(),
            ord_status.tolist(),
            strict=True,
        )
    )

    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        # COPY wants real timestamps for timestamptz; text with an offset is fine.
        orders = [(*o[:2], o[2] + "+00", *o[3:]) for o in orders]
        invoices = [(*r[:9], bool(r[9])) for r in invoices]
    else:
        invoices = [(*r[:9], int(r[9])) for r in invoices]
    with engine.begin() as conn:
        bulk_insert(
            conn,
            Customer.__table__,
            [
                "id",
                "provider_customer_id",
                "name",
                "currency",
                "payment_terms_days",
                "tags",
                "created_on",
                "credit_limit_micros",
            ],
            customers,
        )
        bulk_insert(
            conn,
            Invoice.__table__,
            [
                "id",
                "customer_id",
                "number",
                "issued_on",
                "due_on",
                "period_start",
                "period_end",
                "currency",
                "total_micros",
                "disputed",
            ],
            invoices,
        )
        bulk_insert(
            conn,
            Payment.__table__,
            [
                "id",
                "customer_id",
                "reference",
                "received_on",
                "currency",
                "amount_micros",
                "method",
                "applies_to",
            ],
            payments,
        )
        bulk_insert(
            conn,
            PaymentAllocation.__table__,
            ["payment_id", "invoice_id", "applied_on", "amount_micros"],
            allocations,
        )
        bulk_insert(
            conn,
            UsageRecord.__table__,
            [
                "customer_id",
                "provider_subscription_id",
                "usage_date",
                "meter_id",
                "quantity",
                "currency",
                "amount_micros",
                "row_hash",
            ],
            usage,
        )
        bulk_insert(
            conn,
            Order.__table__,
            [
                "customer_id",
                "provider_order_id",
                "created_at",
                "offer_id",
                "quantity",
                "currency",
                "amount_micros",
                "status",
            ],
            orders,
        )
        if postgres:
            for table in ("customers", "invoices", "payments"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                )
    with engine.begin() as conn:
        started = time.perf_counter()
        refresh_settlement(conn)  # allocations were written directly, as a migration would
        _note(f"bench book_facts: settlement refreshed in {time.perf_counter() - started:.1f} s")
    # Fresh statistics (and, on PostgreSQL, the visibility map that index-only scans need),
    # as autovacuum would have them on a book that was not loaded a second ago.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    engine.dispose()
    return {
        "customers": n_customers,
        "invoices": n_invoices,
        "payments": len(payments),
        "allocations": len(allocations),
        "usage": n_usage,
        "orders": n_orders,
    }


def time_facts(url: str, as_of: date = AS_OF, repeat: int = 3) -> float:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            customer_facts(conn, as_of)  # warm-up
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                facts = customer_facts(conn, as_of)
                best = min(best, time.perf_counter() - started)
            _note(f"bench book_facts: {len(facts)} customers, best {best:.3f} s")
    finally:
        engine.dispose()
    return best


def run(scale: float, db: str, url: str) -> list[dict]:
    started = time.perf_counter()
    counts = build(url, scale)
    _note(f"bench book_facts: built {counts} in {time.perf_counter() - started:.1f} s")
    seconds = time_facts(url)
    n_customers = counts["customers"]
    n_invoices = counts["invoices"]
    return [
        {
            "bench": "book",
            "metric": "facts_query_s",
            "value": round(seconds, 4),
            "unit": "s",
            "target": 2,
            "better": "lower",
            "n": f"{n_customers // 1000}k customers / {n_invoices / 1e6:g}M invoices"
            if n_customers >= 1000
            else f"{n_customers} customers / {n_invoices} invoices",
            "db": db,
        }
    ]
