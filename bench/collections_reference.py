"""A straightforward per-customer collections decision, the yardstick for `evaluate()`.

For each customer, in turn: read its row, its invoices with what was applied to each by as_of,
its unbilled usage, its open orders and its active promise (five small ORM queries), compute
its facts in Python, and let `decide` evaluate the policy's stage conditions. Writes nothing.
It follows the definitions of `riskdesk.book.facts` (amounts in the customer's currency only,
disputed invoices not overdue, days past due of the oldest undisputed unpaid invoice).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from riskdesk.collections.evaluate import Decision, decide
from riskdesk.collections.policy import Policy
from riskdesk.db.models import (
    Customer,
    Invoice,
    Order,
    PaymentAllocation,
    PromiseStatus,
    PromiseToPay,
    UsageRecord,
)
from riskdesk.money import Money

ZERO = Decimal(0)


def customer_row(session: Session, customer_id: int, as_of: date) -> dict | None:
    """One customer's policy facts (the shape of `policy_facts`), or None if unknown."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    currency = customer.currency
    applied = func.coalesce(func.sum(PaymentAllocation.amount), 0)
    invoices = session.execute(
        select(
            Invoice.currency,
            Invoice.due_on,
            Invoice.disputed,
            Invoice.period_end,
            Invoice.total,
            applied,
        )
        .outerjoin(
            PaymentAllocation,
            and_(PaymentAllocation.invoice_id == Invoice.id, PaymentAllocation.applied_on <= as_of),
        )
        .where(Invoice.customer_id == customer_id, Invoice.issued_on <= as_of)
        .group_by(Invoice.id)
    ).all()
    open_balance = overdue = disputed = ZERO
    unpaid = 0
    oldest_due: date | None = None
    last_end: date | None = None
    for inv_currency, due_on, is_disputed, period_end, total, paid in invoices:
        if period_end is not None and period_end <= as_of:
            last_end = period_end if last_end is None else max(last_end, period_end)
        if inv_currency != currency:
            continue
        left = total - Decimal(paid)
        if left == 0:
            continue
        open_balance += left
        if left > 0:
            unpaid += 1
        if is_disputed:
            disputed += left
        elif due_on < as_of:
            overdue += left
            if left > 0 and (oldest_due is None or due_on < oldest_due):
                oldest_due = due_on
    usage = select(func.sum(UsageRecord.amount)).where(
        UsageRecord.customer_id == customer_id,
        UsageRecord.currency == currency,
        UsageRecord.usage_date <= as_of,
    )
    if last_end is not None:
        usage = usage.where(UsageRecord.usage_date > last_end)
    unbilled = session.scalar(usage) or ZERO
    orders_before = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)
    orders = (
        session.scalar(
            select(func.sum(Order.amount)).where(
                Order.customer_id == customer_id,
                Order.currency == currency,
                Order.status == "open",
                Order.created_at < orders_before,
            )
        )
        or ZERO
    )
    promise_until = session.scalar(
        select(func.max(PromiseToPay.due_on)).where(
            PromiseToPay.customer_id == customer_id,
            PromiseToPay.status == PromiseStatus.ACTIVE.value,
            PromiseToPay.promised_on <= as_of,
        )
    )
    created = customer.created_on
    return {
        "customer_id": customer_id,
        "promise_until": promise_until,
        "days_past_due": 0 if oldest_due is None else (as_of - oldest_due).days,
        "overdue_amount": Money(overdue, currency),
        "open_balance": Money(open_balance, currency),
        "unpaid_invoice_count": unpaid,
        "credit_limit": None
        if customer.credit_limit is None
        else Money(customer.credit_limit, currency),
        "exposure": Money(open_balance + unbilled + orders, currency),
        "unbilled_usage": Money(unbilled, currency),
        "disputed_amount": Money(disputed, currency),
        "tags": tuple(sorted(set(customer.tags or ()))),
        "currency": currency,
        "customer_age_days": 0 if created is None else max(0, (as_of - created).days),
        "has_active_promise": promise_until is not None and promise_until >= as_of,
    }


def decide_each(
    session: Session,
    policy: Policy,
    customer_ids: Iterable[int],
    as_of: date,
    current: dict[int, str | None] | None = None,
) -> dict[int, Decision]:
    """Every customer's decision, one customer at a time."""
    current = current or {}
    out: dict[int, Decision] = {}
    for n, cid in enumerate(customer_ids, start=1):
        row = customer_row(session, cid, as_of)
        if row is not None:
            out[cid] = decide(policy, row, current.get(cid), as_of=as_of)
        if n % 1000 == 0:
            session.expunge_all()  # keep the identity map (and memory) small over the book
    return out
