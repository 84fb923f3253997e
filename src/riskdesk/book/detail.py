"""One customer in full, for `riskdesk customers show` and later the customer page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from riskdesk.book.customers import find_customer
from riskdesk.book.facts import CustomerFacts, customer_facts
from riskdesk.db.models import Invoice, PaymentAllocation, Subscription
from riskdesk.money import Money, micros_to_decimal


@dataclass(frozen=True)
class CustomerInfo:
    id: int
    provider_customer_id: str
    name: str
    domain: str | None
    country: str | None
    billing_email: str | None
    currency: str
    payment_terms_days: int
    tags: list[str]
    created_on: date


@dataclass(frozen=True)
class SubscriptionView:
    provider_subscription_id: str
    offer_name: str
    kind: str
    quantity: int
    provider_status: str
    suspension_reasons: list[str]


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    issued_on: date
    due_on: date
    total: Money
    open_amount: Money
    days_past_due: int
    disputed: bool


@dataclass(frozen=True)
class CustomerDetail:
    customer: CustomerInfo
    facts: CustomerFacts
    subscriptions: list[SubscriptionView]
    open_invoices: list[OpenInvoice]


def customer_detail(session: Session, ref: str, as_of: date) -> CustomerDetail:
    """Everything a credit controller looks at first, as of `as_of`."""
    customer = find_customer(session, ref)
    (facts,) = customer_facts(session, as_of, customer_ids=[customer.id])
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.customer_id == customer.id)
        .options(selectinload(Subscription.suspension_reasons))
        .order_by(Subscription.id)
    ).all()
    paid = (
        select(
            PaymentAllocation.invoice_id,
            type_coerce(func.sum(PaymentAllocation.amount), BigInteger).label("paid_micros"),
        )
        .where(
            PaymentAllocation.applied_on <= as_of,
            PaymentAllocation.invoice_id.in_(
                select(Invoice.id).where(Invoice.customer_id == customer.id)
            ),
        )
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    rows = session.execute(
        select(Invoice, paid.c.paid_micros)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id == customer.id, Invoice.issued_on <= as_of)
        .order_by(Invoice.due_on, Invoice.id)
    ).all()
    open_invoices = []
    for invoice, paid_micros in rows:
        open_amount = invoice.total - micros_to_decimal(paid_micros or 0)
        if open_amount > 0:
            open_invoices.append(
                OpenInvoice(
                    number=invoice.number,
                    issued_on=invoice.issued_on,
                    due_on=invoice.due_on,
                    total=invoice.total_money,
                    open_amount=Money(open_amount, invoice.currency),
                    days_past_due=max(0, (as_of - invoice.due_on).days),
                    disputed=invoice.disputed,
                )
            )
    return CustomerDetail(
        customer=CustomerInfo(
            customer.id,
            customer.provider_customer_id,
            customer.name,
            customer.domain,
            customer.country,
            customer.billing_email,
            customer.currency,
            customer.payment_terms_days,
            list(customer.tags or []),
            customer.created_on,
        ),
        facts=facts,
        subscriptions=[
            SubscriptionView(
                s.provider_subscription_id,
                s.offer_name,
                s.kind,
                s.quantity,
                s.provider_status,
                sorted(r.reason for r in s.suspension_reasons),
            )
            for s in subscriptions
        ],
        open_invoices=open_invoices,
    )
