"""Fixtures and helpers of the outbox and executor tests: a sandbox over HTTP, an SMTP server,
one customer with one subscription known to the sandbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from book_builders import invoice
from mail_helpers import SmtpServer, free_port
from riskdesk.actions import outbox
from riskdesk.actions.executor import Executor
from riskdesk.app.bootstrap import action_registry
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    AuditEvent,
    Customer,
    OutboxAction,
    Subscription,
    SubscriptionSuspension,
)
from riskdesk.notify.mail import SmtpMailer
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import SandboxState, sample_state, start_sandbox

T0 = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, moment: datetime = T0) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kw) -> None:
        self.moment += timedelta(**kw)


@pytest.fixture
def sandbox():
    state = sample_state(seed=1)
    with start_sandbox(state) as sb:
        yield sb


@pytest.fixture
def provider(sandbox):
    client = PartnerCenter(
        StaticToken(sandbox.token), base_url=sandbox.base_url, backoff_base=0.01, max_attempts=2
    )
    yield client


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def book(engine, sandbox):
    """One riskdesk customer with one active subscription, both known to the sandbox."""
    state: SandboxState = sandbox.state
    for tenant, subs in state.subscriptions.items():
        active = [s for s in subs.values() if str(getattr(s.status, "value", s.status)) == "active"]
        if active:
            break
    sub = active[0]
    with session_scope(engine) as session:
        customer = Customer(
            provider_customer_id=tenant,
            name="Fabrikam Ltd",
            currency="EUR",
            billing_email="billing@fabrikam.example",
            payment_terms_days=30,
            tags=[],
            created_on=date(2025, 1, 1),
        )
        session.add(customer)
        session.flush()
        subscription = Subscription(
            customer_id=customer.id,
            provider_subscription_id=sub.id,
            offer_id=sub.offer_id,
            offer_name=sub.offer_name or "seat",
            kind="seat",
            quantity=1,
            currency="EUR",
            billing_cycle="monthly",
            provider_status="active",
            created_on=date(2025, 1, 1),
        )
        session.add(subscription)
        session.flush()
        invoice(session, customer, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        invoice(session, customer, "INV-7002", "350.25", date(2026, 2, 1), date(2026, 3, 3))
        return {"customer": customer.id, "subscription": subscription.id, "tenant": tenant,
                "sub": sub.id}  # fmt: skip


def _enqueue(engine, book, kind, key, payload=None, **kw):
    with session_scope(engine) as session:
        action = outbox.enqueue(
            session,
            key=key,
            kind=kind,
            customer_id=book["customer"],
            subscription_id=kw.pop("subscription_id", book["subscription"]),
            payload=payload or {},
            now=kw.pop("now", T0),
            **kw,
        )
        return action.id


def _action(engine, action_id) -> OutboxAction:
    with session_scope(engine) as session:
        return session.get(OutboxAction, action_id)


def _reasons(engine, subscription_id) -> list[str]:
    with session_scope(engine) as session:
        return sorted(
            session.scalars(
                select(SubscriptionSuspension.reason).where(
                    SubscriptionSuspension.subscription_id == subscription_id
                )
            )
        )


def _provider_status(provider, book) -> str:
    status = provider.get_subscription(book["tenant"], book["sub"]).status
    return str(getattr(status, "value", status))


def _audits(engine, action) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def _executor(engine, provider, mailer=None, **kw):
    kw.setdefault("now", Clock())
    mailer = mailer or SmtpMailer("127.0.0.1", free_port(), timeout=2)
    return Executor(engine, provider, mailer, registry=action_registry(), **kw)


SUSPEND = {
    "reason": "non_payment",
    "stage": "suspension",
    "policy_version": "ab" * 32,
    "facts": {"days_past_due": 45, "overdue": "1,550.25 EUR"},
}


# --------------------------------------------------------------------------- outbox


REMINDER = {"template": "reminder", "stage": "reminder", "policy_version": "cd" * 32,
            "as_of": "2026-03-17", "facts": {"days_past_due": 45}}  # fmt: skip
