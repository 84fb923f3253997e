"""Helpers of the collections run tests: the shipped policy and variants of it, runs on a day,
the outbox rows and stages they leave, the executor against the sandbox and a real SMTP server.

The book (see test_actions.book): one EUR customer with one active seat subscription known to
the sandbox, invoices INV-7001 (1,200.00, due 2026-01-31) and INV-7002 (350.25, due
2026-03-03). The standard policy has 3 grace days: reminder from 10 days after the due day,
final notice from 24, suspension from 33.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from outbox_fixtures import Clock
from riskdesk.collections.policy import load_policy, parse_policy
from riskdesk.collections.run import run_collections
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    AuditEvent,
    CollectionState,
    OutboxAction,
)
from riskdesk.notify.mail import SmtpMailer

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"


@pytest.fixture
def policy():
    return load_policy(STANDARD)


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def collect(engine, policy, day: date, **kw):
    """A collections run on `day`, its outbox rows due at the start of that day."""
    return run_collections(engine, policy, as_of=day, now=at(day), **kw)


def stage_of(engine, customer_id):
    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.stage


def actions(engine, **where):
    with session_scope(engine) as session:
        query = select(OutboxAction).order_by(OutboxAction.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxAction, name) == value)
        return session.scalars(query).all()


def execute(engine, provider, smtp, day):
    from riskdesk.actions.executor import Executor
    from riskdesk.app.bootstrap import action_registry

    clock = Clock(at(day))
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="collections@reseller.example")
    return Executor(engine, provider, mailer, registry=action_registry(), now=clock).run_once()


def provider_status(provider, book):
    return provider.get_subscription(book["tenant"], book["sub"]).status


def orders_blocked(engine, customer_id):
    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.orders_blocked


def stage_events(engine, customer_id):
    with session_scope(engine) as session:
        return session.scalars(
            select(AuditEvent.data)
            .where(
                AuditEvent.action == "collections.stage_changed",
                AuditEvent.subject_id == str(customer_id),
            )
            .order_by(AuditEvent.id)
        ).all()


TIERED = """
name: tiered
currency_note: Amounts are in the currency you are invoiced in.
grace_days: 0
max_suspensions_per_run: 50
approval_threshold: 1000000
reinstatement: at once
stages:
  - name: usage_stopped
    title: Usage stopped
    when: days_past_due >= 30
    actions: [{notify: suspended}, {suspend: {kind: consumption}}]
  - name: all_stopped
    title: Everything stopped
    when: days_past_due >= 60
    actions: [{suspend: {kind: seat}}]
"""


def variant(**settings) -> object:
    text = STANDARD.read_text()
    for key, value in settings.items():
        text = "\n".join(
            f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines()
        )
    return parse_policy(text, source="variant.yaml")
