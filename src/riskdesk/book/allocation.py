"""The allocation of payments to invoices.

`allocate` applies every payment's unapplied remainder to its customer's open invoices, in
the caller's transaction:

1. first to the invoices a payment names (`Payment.applies_to`, in the order named), payments
   taken by (received_on, id) -- a small pass over the few payments that name invoices and
   still have money left;
2. then oldest-first, set-based: per customer and currency, the open amounts of invoices
   ordered by (due_on, issued_on, id) and the unapplied amounts of payments ordered by
   (received_on, id) are laid end to end as intervals of a running total; an invoice and a
   payment that overlap get the length of their overlap, min(ends) - max(starts). One
   INSERT ... SELECT with window functions does the whole book.

Afterwards, per customer and currency, either no invoice is open or no payment has money
left, so running it again creates nothing.

An allocation's `applied_on` is the day the money met the invoice: the payment's received_on,
or the invoice's issued_on when a credit (an earlier overpayment) meets a later invoice. So
"what was open on day D" and "what credit was unapplied on day D" both hold for every D.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

from riskdesk.book._sql import (
    UNIT,
    Bind,
    dialect_name,
    exact_sums,
    greatest,
    ids_filter,
    least,
    query,
    rest,
    units,
)

# Serialises concurrent `allocate` runs on PostgreSQL (SQLite serialises writers already).
_ADVISORY_LOCK = 0x5249534B_414C4C4F  # "RISKALLO"

_CHUNK = 5000


def lock_allocation(bind: Bind) -> None:
    """Serialise writers of allocations (PostgreSQL; SQLite has one writer at a time)."""
    if dialect_name(bind) == "postgresql":
        bind.execute(query("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def _decode_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value] if isinstance(value, list) else []


def _insert_allocations(bind: Bind, rows: list[dict[str, Any]]) -> int:
    """Insert allocation rows (payment_id, invoice_id, applied_on, amount_micros); how many."""
    if rows:
        bind.execute(
            query(
                "INSERT INTO payment_allocations"
                " (payment_id, invoice_id, applied_on, amount_micros)"
                " VALUES (:payment_id, :invoice_id, :applied_on, :amount_micros)"
            ),
            rows,
        )
    return len(rows)


def _named_pass(bind: Bind, customer_ids: Sequence[int] | None) -> int:
    """Apply payments that name invoices to those invoices first; returns rows created."""
    if dialect_name(bind) == "postgresql":
        names_some = (
            "CASE WHEN json_typeof(p.applies_to) = 'array' "
            "THEN json_array_length(p.applies_to) ELSE 0 END > 0"
        )
    else:
        names_some = "json_array_length(p.applies_to) > 0"
    sql = f"""
        SELECT * FROM (
            SELECT p.id, p.customer_id, p.currency, p.received_on, p.applies_to,
                   p.amount_micros - COALESCE(
                       (SELECT SUM(a.amount_micros) FROM payment_allocations a
                        WHERE a.payment_id = p.id), 0) AS left_micros
            FROM payments p
            WHERE {names_some} AND p.reversed_at IS NULL{ids_filter("p.customer_id", customer_ids)}
        ) named WHERE left_micros > 0
    """
    rows = bind.execute(
        query(sql, *(["ids"] if customer_ids is not None else [])),
        {"ids": list(customer_ids)} if customer_ids is not None else {},
    ).all()
    payments = list(rows)
    if not payments:
        return 0
    payments.sort(key=lambda r: (str(r.received_on), r.id))
    wanted = sorted({n for r in payments for n in _decode_list(r.applies_to)})
    invoices: dict[str, Any] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for inv in bind.execute(
            query(
                """
                SELECT i.id, i.number, i.customer_id, i.currency, i.issued_on,
                       i.total_micros - COALESCE(
                           (SELECT SUM(a.amount_micros) FROM payment_allocations a
                            WHERE a.invoice_id = i.id), 0) AS open_micros
                FROM invoices i WHERE i.number IN :numbers
                """,
                "numbers",
            ),
            {"numbers": chunk},
        ):
            invoices[inv.number] = inv
    open_left = {inv.id: inv.open_micros for inv in invoices.values()}
    new: list[dict[str, Any]] = []
    for pay in payments:
        left = pay.left_micros
        for number in _decode_list(pay.applies_to):
            named = invoices.get(number)
            if left <= 0:
                break
            if (
                named is None
                or named.customer_id != pay.customer_id
                or named.currency != pay.currency
            ):
                continue
            amount = min(left, open_left[named.id])
            if amount <= 0:
                continue
            open_left[named.id] -= amount
            left -= amount
            applied_on = max(str(pay.received_on), str(named.issued_on))
            new.append(
                {
                    "payment_id": pay.id,
                    "invoice_id": named.id,
                    "applied_on": date.fromisoformat(applied_on[:10]),
                    "amount_micros": amount,
                }
            )
    return _insert_allocations(bind, new)


def _fifo_pass(bind: Bind, customer_ids: Sequence[int] | None) -> int:
    """Oldest-first allocation of everything left, as one INSERT ... SELECT.

    Its running totals are window SUMs over a customer's open invoices and payments, which
    leave BIGINT on SQLite (and raise) once a customer owes or has paid more than 9.2
    trillion units in open amounts together; PostgreSQL sums them as NUMERIC. Should the
    statement overflow (`exact_sums`), the customers whose open amounts add up that far are
    allocated by `_fifo_merge` in Python, the same rule exactly, and the rest set-based.
    """

    def run(split: bool) -> int:
        if not split:
            return _fifo_sql(bind, customer_ids, ())
        large = _large_customers(bind, customer_ids)
        return _fifo_sql(bind, customer_ids, large) + _fifo_merge(bind, large)

    return exact_sums(bind, run)


# A customer whose open invoices or open payments add up to more units than this is
# allocated in Python (`_fifo_merge`): its running totals in micros could leave BIGINT.
_LARGE_UNITS = 9_000_000_000_000


def _large_customers(bind: Bind, customer_ids: Sequence[int] | None) -> list[int]:
    """Customers whose open invoices or open payments (per currency) add up past
    `_LARGE_UNITS`, summed in split form (which cannot overflow)."""
    found: set[int] = set()
    for rows in (_open_invoice_rows, _open_payment_rows):
        sql = f"""
            SELECT customer_id FROM ({rows(customer_ids)}) o
            WHERE o.open_micros > 0
            GROUP BY customer_id, currency
            HAVING SUM({units("o.open_micros")}) + SUM({rest("o.open_micros")}) / {UNIT}
                   >= {_LARGE_UNITS}
        """
        found.update(
            int(c)
            for (c,) in bind.execute(
                query(sql, *_ids_names(customer_ids)), _ids_params(customer_ids)
            )
        )
    return sorted(found)


def _ids_names(customer_ids: Sequence[int] | None) -> list[str]:
    return [] if customer_ids is None else ["ids"]


def _ids_params(customer_ids: Sequence[int] | None) -> dict[str, Any]:
    return {} if customer_ids is None else {"ids": list(customer_ids)}


def _open_invoice_rows(customer_ids: Sequence[int] | None) -> str:
    return f"""
        SELECT i.id, i.customer_id, i.currency, i.issued_on, i.due_on,
               i.total_micros - COALESCE(
                   (SELECT SUM(a.amount_micros) FROM payment_allocations a
                    WHERE a.invoice_id = i.id), 0) AS open_micros
        FROM invoices i WHERE 1 = 1{ids_filter("i.customer_id", customer_ids)}"""


def _open_payment_rows(customer_ids: Sequence[int] | None) -> str:
    return f"""
        SELECT p.id, p.customer_id, p.currency, p.received_on,
               p.amount_micros - COALESCE(
                   (SELECT SUM(a.amount_micros) FROM payment_allocations a
                    WHERE a.payment_id = p.id), 0) AS open_micros
        FROM payments p
        WHERE p.reversed_at IS NULL{ids_filter("p.customer_id", customer_ids)}"""


def _fifo_merge(bind: Bind, customer_ids: Sequence[int]) -> int:
    """The oldest-first rule of `_fifo_sql` for `customer_ids`, as a merge in Python: per
    customer and currency, invoices by (due_on, issued_on, id) meet payments by
    (received_on, id), each allocation the smaller of what is left on either side."""
    if not customer_ids:
        return 0
    params = {"ids": list(customer_ids)}
    invoices: dict[tuple[int, str], list[list[Any]]] = {}
    for r in bind.execute(
        query(
            f"SELECT * FROM ({_open_invoice_rows(customer_ids)}) o WHERE open_micros > 0 "
            "ORDER BY customer_id, currency, due_on, issued_on, id",
            "ids",
        ),
        params,
    ):
        invoices.setdefault((r.customer_id, r.currency), []).append(
            [r.id, str(r.issued_on), int(r.open_micros)]
        )
    new: list[dict[str, Any]] = []
    for r in bind.execute(
        query(
            f"SELECT * FROM ({_open_payment_rows(customer_ids)}) o WHERE open_micros > 0 "
            "ORDER BY customer_id, currency, received_on, id",
            "ids",
        ),
        params,
    ):
        left = int(r.open_micros)
        queue = invoices.get((r.customer_id, r.currency), [])
        while left > 0 and queue:
            head = queue[0]
            amount = min(left, head[2])
            new.append(
                {
                    "payment_id": r.id,
                    "invoice_id": head[0],
                    "applied_on": date.fromisoformat(max(str(r.received_on), head[1])[:10]),
                    "amount_micros": amount,
                }
            )
            left -= amount
            head[2] -= amount
            if head[2] == 0:
                queue.pop(0)
    return _insert_allocations(bind, new)


def _fifo_sql(bind: Bind, customer_ids: Sequence[int] | None, skip: Sequence[int]) -> int:
    """`_fifo_pass` as one statement, leaving out the customers `skip`."""
    if customer_ids is None:
        paid_inv = "SELECT invoice_id, SUM(amount_micros) AS paid FROM payment_allocations "
        paid_inv += "GROUP BY invoice_id"
        used_pay = "SELECT payment_id, SUM(amount_micros) AS used FROM payment_allocations "
        used_pay += "GROUP BY payment_id"
    else:
        paid_inv = (
            "SELECT a.invoice_id, SUM(a.amount_micros) AS paid FROM payment_allocations a "
            "JOIN invoices i ON i.id = a.invoice_id WHERE i.customer_id IN :ids "
            "GROUP BY a.invoice_id"
        )
        used_pay = (
            "SELECT a.payment_id, SUM(a.amount_micros) AS used FROM payment_allocations a "
            "JOIN payments p ON p.id = a.payment_id WHERE p.customer_id IN :ids "
            "GROUP BY a.payment_id"
        )
    inv_filter = ids_filter("i.customer_id", customer_ids)
    pay_filter = ids_filter("p.customer_id", customer_ids)
    if skip:
        inv_filter += " AND i.customer_id NOT IN :skip"
        pay_filter += " AND p.customer_id NOT IN :skip"
    # INSERT first, WITH inside: Python's sqlite3 reports rowcount only for statements
    # that begin with INSERT.
    sql = f"""
        INSERT INTO payment_allocations (payment_id, invoice_id, applied_on, amount_micros)
        WITH paid_inv AS ({paid_inv}),
        used_pay AS ({used_pay}),
        open_inv AS (
            SELECT i.id, i.customer_id, i.currency, i.issued_on, i.due_on,
                   i.total_micros - COALESCE(a.paid, 0) AS open_micros
            FROM invoices i LEFT JOIN paid_inv a ON a.invoice_id = i.id
            WHERE i.total_micros - COALESCE(a.paid, 0) > 0{inv_filter}
        ),
        open_pay AS (
            SELECT p.id, p.customer_id, p.currency, p.received_on,
                   p.amount_micros - COALESCE(u.used, 0) AS left_micros
            FROM payments p LEFT JOIN used_pay u ON u.payment_id = p.id
            WHERE p.amount_micros - COALESCE(u.used, 0) > 0 AND p.reversed_at IS NULL{pay_filter}
        ),
        inv_iv AS (
            SELECT id, customer_id, currency, issued_on,
                   SUM(open_micros) OVER (
                       PARTITION BY customer_id, currency ORDER BY due_on, issued_on, id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi,
                   open_micros
            FROM open_inv
            WHERE EXISTS (SELECT 1 FROM open_pay p
                          WHERE p.customer_id = open_inv.customer_id
                            AND p.currency = open_inv.currency)
        ),
        pay_iv AS (
            SELECT id, customer_id, currency, received_on,
                   SUM(left_micros) OVER (
                       PARTITION BY customer_id, currency ORDER BY received_on, id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi,
                   left_micros
            FROM open_pay
            WHERE EXISTS (SELECT 1 FROM open_inv i
                          WHERE i.customer_id = open_pay.customer_id
                            AND i.currency = open_pay.currency)
        )
        SELECT p.id, i.id, {greatest("p.received_on", "i.issued_on")},
               {least("p.hi", "i.hi")} - {greatest("p.hi - p.left_micros", "i.hi - i.open_micros")}
        FROM pay_iv p
        JOIN inv_iv i
          ON i.customer_id = p.customer_id AND i.currency = p.currency
         AND i.hi - i.open_micros < p.hi AND p.hi - p.left_micros < i.hi
        ORDER BY p.id, i.id
    """
    params = _ids_params(customer_ids)
    names = _ids_names(customer_ids)
    if skip:
        params["skip"] = list(skip)
        names.append("skip")
    result = bind.execute(query(sql, *names), params)
    return max(cast(CursorResult[Any], result).rowcount or 0, 0)


def refresh_settlement(bind: Bind, customer_ids: Sequence[int] | None = None) -> None:
    """Recompute what was applied to each invoice and payment, and the day it was settled.

    `invoices.paid_micros` / `payments.applied_micros` are the sums of their allocations and
    `settled_on` the day of the allocation that left nothing open (NULL while something is).
    These are caches of `payment_allocations`; `allocate` (and `reverse_payment`) refreshes
    them, and so must anything else that writes allocations (the demo book, benchmarks).
    The facts query then reads only what was not settled by its day.
    """
    if isinstance(bind, Session):
        bind.flush()
    for table, key, done, whole in (
        ("invoices", "invoice_id", "paid_micros", "total_micros"),
        ("payments", "payment_id", "applied_micros", "amount_micros"),
    ):
        scope = (
            ""
            if customer_ids is None
            else f" WHERE a.{key} IN (SELECT id FROM {table} WHERE customer_id IN :ids)"
        )
        sql = f"""
            UPDATE {table}
            SET {done} = s.done,
                settled_on = CASE WHEN {table}.{whole} > 0 AND s.done >= {table}.{whole}
                                  THEN s.last_on END
            FROM (
                SELECT a.{key} AS id, SUM(a.amount_micros) AS done,
                       MAX(a.applied_on) AS last_on
                FROM payment_allocations a{scope}
                GROUP BY a.{key}
            ) s
            WHERE s.id = {table}.id
              AND ({table}.{done} <> s.done OR {table}.settled_on IS NULL
                   OR {table}.settled_on <> s.last_on)
        """
        if customer_ids is None:
            bind.execute(query(sql))
        else:
            bind.execute(query(sql, "ids"), {"ids": list(customer_ids)})


def allocate(session_or_connection: Bind, customer_ids: Sequence[int] | None = None) -> int:
    """Apply unapplied payments to open invoices (named ones first, then oldest-first).

    Works in the caller's transaction on the whole book, or on `customer_ids` only. Returns
    the number of allocation rows created; a second run creates none.
    """
    if customer_ids is not None:
        customer_ids = sorted({int(c) for c in customer_ids})
        if not customer_ids:
            return 0
    bind = session_or_connection
    if isinstance(bind, Session):
        bind.flush()
    lock_allocation(bind)
    created = _named_pass(bind, customer_ids)
    created += _fifo_pass(bind, customer_ids)
    if created:
        refresh_settlement(bind, customer_ids)
    return created
