"""One customer in full, for `riskdesk customers show` and later the customer page.

Balances, invoices, disputes and promises are as of the day asked for; the collections
stage, the holds and the actions waiting are the book's state now (they keep no history
here); notices are those sent up to the end of that day (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from riskdesk.book.customers import find_customer
from riskdesk.book.facts import CustomerFacts, customer_facts
from riskdesk.book.open_invoices import OpenInvoice, invoice_balances
from riskdesk.db.models import (
    ActionKind,
    ActionStatus,
    CollectionState,
    Customer,
    OutboxAction,
    PromiseStatus,
    PromiseToPay,
    Subscription,
)
from riskdesk.money import Money

#: At most this many notices (the latest) are listed; `notices_sent` says how many in all.
NOTICES_SHOWN = 20

#: Outbox statuses of an action not yet carried out.
WAITING = (ActionStatus.PENDING, ActionStatus.AWAITING_APPROVAL, ActionStatus.IN_PROGRESS)


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
class CollectionsStanding:
    """Where the customer stands in the collections policy; stage None = good standing."""

    stage: str | None
    entered_on: date | None
    policy_version: str | None
    orders_blocked: bool
    subscriptions_suspended: bool


@dataclass(frozen=True)
class Hold:
    """One reason one subscription is held suspended, since when."""

    provider_subscription_id: str
    offer_name: str
    reason: str
    since: datetime
    note: str | None


@dataclass(frozen=True)
class WaitingAction:
    """An outbox action decided and not yet carried out.

    `reason` is why it was decided (the policy's words), `last_error` why it is not done yet
    (a transient failure, a hold); `claimed_at` is the start of an in-progress lease.
    """

    id: int
    kind: str
    provider_subscription_id: str | None
    status: str
    stage: str | None
    reason: str | None
    last_error: str | None
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    claimed_at: datetime | None


@dataclass(frozen=True)
class SentNotice:
    id: int
    template: str | None
    stage: str | None
    to: str | None
    subject: str | None
    message_id: str | None
    sent_at: datetime


@dataclass(frozen=True)
class Dispute:
    """An invoice the customer disputes (open_amount zero once it is paid all the same)."""

    number: str
    issued_on: date
    due_on: date
    total: Money
    open_amount: Money


@dataclass(frozen=True)
class Promise:
    id: int
    promised_on: date
    due_on: date
    amount: Money
    note: str | None
    created_by: str
    overdue: bool


@dataclass(frozen=True)
class CustomerDetail:
    customer: CustomerInfo
    facts: CustomerFacts
    subscriptions: list[SubscriptionView]
    open_invoices: list[OpenInvoice]
    collections: CollectionsStanding
    holds: list[Hold]
    waiting_actions: list[WaitingAction]
    notices: list[SentNotice]
    notices_sent: int
    disputes: list[Dispute]
    promises: list[Promise]


def customer_detail(session: Session, ref: str, as_of: date) -> CustomerDetail:
    """Everything a credit controller looks at first, as of `as_of` (see the module).

    A fixed number of queries for the one customer, none per subscription or invoice.
    """
    customer = find_customer(session, ref)
    (facts,) = customer_facts(session, as_of, customer_ids=[customer.id])
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.customer_id == customer.id)
        .options(selectinload(Subscription.suspension_reasons))
        .order_by(Subscription.id)
    ).all()
    invoices = invoice_balances(session, [customer.id], as_of, with_settled_disputes=True)
    open_invoices = []
    disputes = []
    for invoice in invoices.get(customer.id, ()):
        if invoice.disputed:
            disputes.append(
                Dispute(
                    number=invoice.number,
                    issued_on=invoice.issued_on,
                    due_on=invoice.due_on,
                    total=invoice.total,
                    open_amount=invoice.open_amount,
                )
            )
        if invoice.open_amount.amount > 0:
            open_invoices.append(invoice)
    by_id = {s.id: s for s in subscriptions}
    notices, notices_sent = _notices(session, customer.id, as_of)
    return CustomerDetail(
        customer=_info(customer),
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
        collections=_standing(session, customer.id),
        holds=sorted(
            (
                Hold(s.provider_subscription_id, s.offer_name, r.reason, r.since, r.note)
                for s in subscriptions
                for r in s.suspension_reasons
            ),
            key=lambda h: (h.since, h.provider_subscription_id, h.reason),
        ),
        waiting_actions=_waiting(session, customer.id, by_id),
        notices=notices,
        notices_sent=notices_sent,
        disputes=disputes,
        promises=_promises(session, customer.id, as_of),
    )


def _info(customer: Customer) -> CustomerInfo:
    return CustomerInfo(
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
    )


def _standing(session: Session, customer_id: int) -> CollectionsStanding:
    state = session.get(CollectionState, customer_id)
    if state is None:
        return CollectionsStanding(None, None, None, False, False)
    return CollectionsStanding(
        state.stage,
        state.entered_on,
        state.policy_version,
        bool(state.orders_blocked),
        bool(state.subscriptions_suspended),
    )


def _waiting(
    session: Session, customer_id: int, subscriptions: dict[int, Subscription]
) -> list[WaitingAction]:
    actions = session.scalars(
        select(OutboxAction)
        .where(
            OutboxAction.customer_id == customer_id,
            OutboxAction.status.in_([s.value for s in WAITING]),
        )
        .order_by(OutboxAction.id)
    )
    out = []
    for a in actions:
        payload = a.payload or {}
        sub = subscriptions.get(a.subscription_id) if a.subscription_id else None
        out.append(
            WaitingAction(
                id=a.id,
                kind=a.kind,
                provider_subscription_id=sub.provider_subscription_id if sub else None,
                status=a.status,
                stage=payload.get("stage"),
                reason=payload.get("reason"),
                last_error=a.last_error,
                attempts=a.attempts,
                created_at=a.created_at,
                next_attempt_at=a.next_attempt_at,
                claimed_at=a.claimed_at if a.status == ActionStatus.IN_PROGRESS else None,
            )
        )
    return out


def _notices(session: Session, customer_id: int, as_of: date) -> tuple[list[SentNotice], int]:
    """The latest notices sent up to the end of `as_of`, and how many in all.

    A notice the executor skipped as stale is `done` too but has no message id: not sent.
    """
    end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)
    sent = (
        OutboxAction.customer_id == customer_id,
        OutboxAction.kind == ActionKind.NOTIFY_EMAIL.value,
        OutboxAction.status == ActionStatus.DONE.value,
        OutboxAction.updated_at < end,
        OutboxAction.result["message_id"].as_string().is_not(None),
    )
    rows = session.scalars(
        select(OutboxAction)
        .where(*sent)
        .order_by(OutboxAction.updated_at.desc(), OutboxAction.id.desc())
        .limit(NOTICES_SHOWN + 1)
    ).all()
    total = len(rows)
    if total > NOTICES_SHOWN:
        total = session.scalar(select(func.count()).select_from(OutboxAction).where(*sent)) or 0
    notices = []
    for a in rows[:NOTICES_SHOWN]:
        result, payload = a.result or {}, a.payload or {}
        notices.append(
            SentNotice(
                id=a.id,
                template=result.get("template") or payload.get("template"),
                stage=payload.get("stage"),
                to=result.get("to"),
                subject=result.get("subject"),
                message_id=result.get("message_id"),
                sent_at=a.updated_at,
            )
        )
    return notices, total


def _promises(session: Session, customer_id: int, as_of: date) -> list[Promise]:
    rows = session.scalars(
        select(PromiseToPay)
        .where(
            PromiseToPay.customer_id == customer_id,
            PromiseToPay.status == PromiseStatus.ACTIVE.value,
            PromiseToPay.promised_on <= as_of,
        )
        .order_by(PromiseToPay.due_on, PromiseToPay.id)
    )
    return [
        Promise(
            p.id,
            p.promised_on,
            p.due_on,
            p.amount_money,
            p.note,
            p.created_by,
            overdue=p.due_on < as_of,
        )
        for p in rows
    ]
