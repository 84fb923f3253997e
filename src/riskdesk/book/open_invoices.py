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

from sqlalchemy import BigInteger, Connection, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from riskdesk.db.models import Invoice, PaymentAllocation
from riskdesk.money import MicrosToMoney, Money

#: Customer-id lists longer than this are not sent as IN (...) parameters (SQLite's limit).
_IN_LIST_MAX = 5000
#: From this many customers on, one pass over every unsettled invoice of the book (an index
#: scan, as the facts read them) is cheaper than looking each customer's invoices up.
_WHOLE_BOOK_FROM = 500


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
    past_due_only: bool = False,
) -> dict[int, list[OpenInvoice]]:
    """Each customer's invoices issued by `as_of` with something open on that day, oldest due
    first; with `with_settled_disputes` also disputed invoices with nothing open (a dispute
    is shown until it is resolved); with `past_due_only` only those due before `as_of`.
    Payments count as applied on their allocation's day."""
    found: dict[int, list[OpenInvoice]] = defaultdict(list)
    ids = sorted(set(customer_ids))
    if len(ids) >= _WHOLE_BOOK_FROM and not with_settled_disputes:
        wanted = set(ids)
        rows = [r for r in _rows(bind, None, as_of, False, past_due_only) if r[0] in wanted]
        rows.sort(key=lambda r: (r[0], r[1].due_on, r[2]))
        for customer_id, invoice, _ in rows:
            found[customer_id].append(invoice)
        return found
    for start in range(0, len(ids), _IN_LIST_MAX):
        chunk = ids[start : start + _IN_LIST_MAX]
        for customer_id, invoice, _ in _rows(
            bind, chunk, as_of, with_settled_disputes, past_due_only
        ):
            found[customer_id].append(invoice)
    return found


def _rows(
    bind: Connection | Session,
    ids: list[int] | None,
    as_of: date,
    with_settled_disputes: bool,
    past_due_only: bool,
) -> list[tuple[int, OpenInvoice, int]]:
    """(customer id, open invoice, invoice id) of the customers `ids`, in the order a
    customer's invoices are listed; with `ids` None of every customer, in no order (an
    ORDER BY would turn SQLite's scan of the unsettled index into a walk of every invoice)."""
    # What was applied by as_of is the cached `paid` less what was applied after it (nothing
    # when as_of is today), as the facts read it: no pass over every allocation.
    later = (
        select(
            PaymentAllocation.invoice_id,
            type_coerce(func.sum(PaymentAllocation.amount), BigInteger).label("later_micros"),
        )
        .where(PaymentAllocation.applied_on > as_of)
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    unsettled = or_(Invoice.settled_on.is_(None), Invoice.settled_on > as_of)
    if with_settled_disputes:
        unsettled = or_(unsettled, Invoice.disputed.is_(True))
    query = (
        select(
            Invoice.id,
            Invoice.customer_id,
            Invoice.number,
            Invoice.issued_on,
            Invoice.due_on,
            Invoice.currency,
            type_coerce(Invoice.total, BigInteger).label("total_micros"),
            type_coerce(Invoice.paid, BigInteger).label("paid_micros"),
            Invoice.disputed,
            later.c.later_micros,
        )
        .outerjoin(later, later.c.invoice_id == Invoice.id)
        .where(Invoice.issued_on <= as_of, unsettled)
    )
    if ids is not None:
        query = query.where(Invoice.customer_id.in_(ids)).order_by(
            Invoice.customer_id, Invoice.due_on, Invoice.id
        )
    if past_due_only:
        query = query.where(Invoice.due_on < as_of)
    out: list[tuple[int, OpenInvoice, int]] = []
    monies: dict[str, MicrosToMoney] = {}
    for (
        invoice_id,
        customer_id,
        number,
        issued_on,
        due_on,
        currency,
        total,
        paid,
        disputed,
        later,
    ) in bind.execute(query):
        open_micros = total - paid + (later or 0)
        if open_micros <= 0 and not (with_settled_disputes and disputed):
            continue
        money = monies.get(currency)
        if money is None:
            money = monies[currency] = MicrosToMoney(currency)
        invoice = OpenInvoice(
            number=number,
            issued_on=issued_on,
            due_on=due_on,
            total=money[total],
            open_amount=money[max(open_micros, 0)],
            days_past_due=max(0, (as_of - due_on).days),
            disputed=bool(disputed),
        )
        out.append((customer_id, invoice, invoice_id))
    return out
