"""Payments and their allocation to invoices.

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
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.book._sql import Bind, dialect_name, greatest, ids_filter, least, query
from riskdesk.db.models import Customer, Invoice, Payment
from riskdesk.errors import InvalidInputError, NotFoundError
from riskdesk.money import Money, finer_than_currency

# Serialises concurrent `allocate` runs on PostgreSQL (SQLite serialises writers already).
_ADVISORY_LOCK = 0x5249534B_414C4C4F  # "RISKALLO"

_CHUNK = 5000


class PaymentError(InvalidInputError):
    """A payment that cannot be recorded as given (currency, invoices named, reference)."""


def payment_problems(
    amount: Decimal | None, currency: str | None, received_on: date | None, *, today: date
) -> list[tuple[str, str]]:
    """Why a payment cannot be accepted as given, as (field, message) pairs (`received_on`,
    `amount`); empty when it can. The one set of rules for a payment typed in (`payments
    record`) and a payment imported (the import names the line and column): it is not dated
    after `today` (the caller's clock), and its amount is positive and no finer than its
    currency allows (refused, never rounded). A rule whose inputs are unknown (None) is
    skipped; the caller has refused those already."""
    problems: list[tuple[str, str]] = []
    if received_on is not None and received_on > today:
        problems.append(
            (
                "received_on",
                f"received on {received_on.isoformat()} is later than today "
                f"({today.isoformat()}): record a payment once it has been received",
            )
        )
    if amount is not None:
        finer = None if currency is None else finer_than_currency(amount, currency)
        if finer is not None:
            problems.append(("amount", f"{finer}: give the amount exactly as received"))
        elif amount <= 0:
            problems.append(("amount", f"a payment must be positive, not {amount}"))
    return problems


def check_payment(amount: Decimal, currency: str, received_on: date, *, today: date) -> None:
    """Raise PaymentError naming every rule of `payment_problems` the payment breaks."""
    problems = payment_problems(amount, currency, received_on, today=today)
    if problems:
        raise PaymentError("; ".join(message for _field, message in problems))


def _lock(bind: Bind) -> None:
    if dialect_name(bind) == "postgresql":
        bind.execute(query("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def _decode_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value] if isinstance(value, list) else []


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
            WHERE {names_some}{ids_filter("p.customer_id", customer_ids)}
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
    if new:
        bind.execute(
            query(
                "INSERT INTO payment_allocations"
                " (payment_id, invoice_id, applied_on, amount_micros)"
                " VALUES (:payment_id, :invoice_id, :applied_on, :amount_micros)"
            ),
            new,
        )
    return len(new)


def _fifo_pass(bind: Bind, customer_ids: Sequence[int] | None) -> int:
    """Oldest-first allocation of everything left, as one INSERT ... SELECT."""
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
            WHERE p.amount_micros - COALESCE(u.used, 0) > 0{pay_filter}
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
    params = {} if customer_ids is None else {"ids": list(customer_ids)}
    result = bind.execute(query(sql, *(["ids"] if customer_ids is not None else [])), params)
    return max(cast(CursorResult[Any], result).rowcount or 0, 0)


def refresh_settlement(bind: Bind, customer_ids: Sequence[int] | None = None) -> None:
    """Recompute what was applied to each invoice and payment, and the day it was settled.

    `invoices.paid_micros` / `payments.applied_micros` are the sums of their allocations and
    `settled_on` the day of the allocation that left nothing open (NULL while something is).
    Allocations only grow, so these are caches of `payment_allocations`; `allocate` refreshes
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
    _lock(bind)
    created = _named_pass(bind, customer_ids)
    created += _fifo_pass(bind, customer_ids)
    if created:
        refresh_settlement(bind, customer_ids)
    return created


def record_payment(
    session: Session,
    *,
    customer_id: int,
    reference: str,
    received_on: date,
    amount: Money,
    method: str | None = None,
    applies_to: Sequence[str] = (),
    actor: str = "system",
) -> Payment:
    """Record a payment received, apply it, and write a `payment.recorded` audit event.

    Refuses (changing nothing) an unknown customer (NotFoundError), a payment in another
    currency than the customer's, a non-positive amount, a reference already recorded, and
    named invoices that do not exist or belong to someone else (each named in the message).
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"unknown customer {customer_id!r}")
    if not isinstance(amount, Money):
        raise PaymentError(f"payment {reference!r}: amount must be Money, not {amount!r}")
    if amount.currency != customer.currency:
        raise PaymentError(
            f"payment {reference!r} is in {amount.currency} but customer {customer.name!r} "
            f"({customer.provider_customer_id}) is billed in {customer.currency}"
        )
    if amount.amount <= 0:
        raise PaymentError(f"payment {reference!r}: amount must be positive, got {amount}")
    if not reference or not reference.strip():
        raise PaymentError("payment reference must not be empty")
    if session.scalar(select(Payment.id).where(Payment.reference == reference)) is not None:
        raise PaymentError(f"payment reference {reference!r} is already recorded")
    named = list(dict.fromkeys(str(n) for n in applies_to))
    if named:
        found = {
            inv.number: inv
            for inv in session.scalars(select(Invoice).where(Invoice.number.in_(named)))
        }
        for number in named:
            inv = found.get(number)
            if inv is None:
                raise NotFoundError(f"payment {reference!r} names unknown invoice {number!r}")
            if inv.customer_id != customer.id:
                raise PaymentError(
                    f"payment {reference!r} names invoice {number!r}, which belongs to "
                    f"another customer, not {customer.name!r}"
                )
            if inv.currency != amount.currency:
                raise PaymentError(
                    f"payment {reference!r} is in {amount.currency} but invoice {number!r} "
                    f"is in {inv.currency}"
                )
    payment = Payment(
        customer_id=customer.id,
        reference=reference,
        received_on=received_on,
        currency=amount.currency,
        amount=amount.amount,
        method=method,
        applies_to=named,
    )
    session.add(payment)
    session.flush()
    created = allocate(session, [customer.id])
    session.expire(payment, ["allocations"])
    audit.record(
        session,
        actor=actor,
        action="payment.recorded",
        subject_type="customer",
        subject_id=customer.id,
        data={
            "payment_id": payment.id,
            "reference": reference,
            "received_on": received_on.isoformat(),
            "amount": str(amount.amount),
            "currency": amount.currency,
            "method": method,
            "applies_to": named,
            "allocations_created": created,
        },
    )
    return payment
