"""What each customer owes invoice by invoice on a day: one query for any number of customers.

`customers show` reads one customer's invoices from here, and a collections run reads those
of every customer it writes a notice for (what the notice lists is decided when it is
planned, from the book as of the decision's day, and kept with the action).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Connection, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from riskdesk.db.models import Invoice, PaymentAllocation
from riskdesk.money import Money, micros_to_decimal

#: Customer-id lists longer than this are not sent as IN (...) parameters (SQLite's limit).
_IN_LIST_MAX = 5000


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    issued_on: date
    due_on: date
    total: Money
    open_amount: Money
    days_past_due: int
    disputed: bool


def invoice_balances(
    bind: Connection | Session,
    customer_ids: Collection[int],
    as_of: date,
    *,
    with_settled_disputes: bool = False,
) -> dict[int, list[OpenInvoice]]:
    """Each customer's invoices issued by `as_of` with something open on that day, oldest due
    first; with `with_settled_disputes` also disputed invoices with nothing open (a dispute
    is shown until it is resolved). Payments count as applied on their allocation's day."""
    found: dict[int, list[OpenInvoice]] = defaultdict(list)
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), _IN_LIST_MAX):
        chunk = ids[start : start + _IN_LIST_MAX]
        for customer_id, invoice in _rows(bind, chunk, as_of, with_settled_disputes):
            found[customer_id].append(invoice)
    return found


def _rows(
    bind: Connection | Session, ids: list[int], as_of: date, with_settled_disputes: bool
) -> list[tuple[int, OpenInvoice]]:
    paid = (
        select(
            PaymentAllocation.invoice_id,
            type_coerce(func.sum(PaymentAllocation.amount), BigInteger).label("paid_micros"),
        )
        .where(
            PaymentAllocation.applied_on <= as_of,
            PaymentAllocation.invoice_id.in_(
                select(Invoice.id).where(Invoice.customer_id.in_(ids))
            ),
        )
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    unsettled = or_(Invoice.settled_on.is_(None), Invoice.settled_on > as_of)
    if with_settled_disputes:
        unsettled = or_(unsettled, Invoice.disputed.is_(True))
    query = (
        select(
            Invoice.customer_id,
            Invoice.number,
            Invoice.issued_on,
            Invoice.due_on,
            Invoice.currency,
            Invoice.total.label("total"),
            Invoice.disputed,
            paid.c.paid_micros,
        )
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id.in_(ids), Invoice.issued_on <= as_of, unsettled)
        .order_by(Invoice.customer_id, Invoice.due_on, Invoice.id)
    )
    out: list[tuple[int, OpenInvoice]] = []
    for row in bind.execute(query):
        open_amount = row.total - micros_to_decimal(row.paid_micros or 0)
        if open_amount <= 0 and not (with_settled_disputes and row.disputed):
            continue
        out.append((row.customer_id, _invoice(row, max(open_amount, 0), as_of)))
    return out


def _invoice(row: Any, open_amount: Any, as_of: date) -> OpenInvoice:
    return OpenInvoice(
        number=row.number,
        issued_on=row.issued_on,
        due_on=row.due_on,
        total=Money(row.total, row.currency),
        open_amount=Money(open_amount, row.currency),
        days_past_due=max(0, (as_of - row.due_on).days),
        disputed=bool(row.disputed),
    )
