"""Small hand-built books for the tests of riskdesk.book."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from decimal import Decimal

from riskdesk.db.models import Customer, Invoice, Order, Payment, UsageRecord

_seq = itertools.count(1)


def customer(
    session, name="Contoso", currency="EUR", *, limit=None, tags=(), pcid=None, domain=None
):
    row = Customer(
        provider_customer_id=pcid or f"tenant-{next(_seq)}",
        name=name,
        domain=domain,
        currency=currency,
        payment_terms_days=30,
        credit_limit=None if limit is None else Decimal(limit),
        tags=list(tags),
        created_on=date(2025, 1, 1),
    )
    session.add(row)
    session.flush()
    return row


def invoice(session, cust, number, total, issued, due=None, *, period_end=None, disputed=False):
    row = Invoice(
        customer_id=cust.id,
        number=number,
        issued_on=issued,
        due_on=due or issued,
        period_start=None,
        period_end=period_end,
        currency=cust.currency,
        total=Decimal(total),
        disputed=disputed,
    )
    session.add(row)
    session.flush()
    return row


def payment(session, cust, reference, amount, received, *, applies_to=(), currency=None):
    row = Payment(
        customer_id=cust.id,
        reference=reference,
        received_on=received,
        currency=currency or cust.currency,
        amount=Decimal(amount),
        applies_to=list(applies_to),
    )
    session.add(row)
    session.flush()
    return row


def usage(session, cust, day, amount, *, currency=None):
    row = UsageRecord(
        customer_id=cust.id,
        provider_subscription_id="plan-1",
        usage_date=day,
        meter_id="m",
        quantity=1.0,
        currency=currency or cust.currency,
        amount=Decimal(amount),
        row_hash=next(_seq),
    )
    session.add(row)
    session.flush()
    return row


def order(session, cust, amount, created: date, *, status="open"):
    row = Order(
        customer_id=cust.id,
        provider_order_id=f"order-{next(_seq)}",
        created_at=datetime.combine(created, time(12, 0), tzinfo=UTC),
        offer_id="offer",
        quantity=1,
        currency=cust.currency,
        amount=Decimal(amount),
        status=status,
    )
    session.add(row)
    session.flush()
    return row
