"""Audit trail use cases: check that the hash chain holds; show the events a person asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from riskdesk import audit
from riskdesk.app.deps import Deps
from riskdesk.book.customers import find_customer
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Subscription
from riskdesk.errors import InvalidInputError


def verify(deps: Deps) -> audit.ChainCheck:
    """Walk the whole chain; the result names the first broken event (id, time, what)."""
    with session_scope(deps.engine()) as session:
        return audit.check_chain(session)


@dataclass(frozen=True)
class EventQuery:
    customer: str | None = None  # any reference `customers show` accepts
    subscription: int | None = None
    action_id: int | None = None
    actor: str | None = None
    day: date | None = None
    since: date | None = None  # days, UTC, both included
    until: date | None = None
    limit: int = 100


@dataclass(frozen=True)
class EventRow:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str | None
    data: dict[str, Any]


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def show(deps: Deps, query: EventQuery) -> list[EventRow]:
    """The newest `limit` events that match every filter given, oldest first.

    A customer's events are those about the customer (its payments, stages, actions, disputes,
    promises) and about its subscriptions; a subscription's, those about it and the outbox
    actions on it; an action's, what the outbox and the executor recorded for it.
    """
    if query.day is not None and (query.since is not None or query.until is not None):
        raise InvalidInputError("give either a day, or a period (since, until), not both")
    since, until = query.since, query.until
    if query.day is not None:
        since = until = query.day
    if since is not None and until is not None and since > until:
        raise InvalidInputError(f"since {since} is later than until {until}: nothing between")
    if query.limit < 1:
        raise InvalidInputError(f"limit {query.limit}: show at least 1 event")
    with session_scope(deps.engine()) as session:
        stmt = select(AuditEvent)
        if query.customer is not None:
            customer = find_customer(session, query.customer)
            subscriptions = select(Subscription.id).where(Subscription.customer_id == customer.id)
            stmt = stmt.where(
                or_(
                    and_(
                        AuditEvent.subject_type == "customer",
                        AuditEvent.subject_id == str(customer.id),
                    ),
                    and_(
                        AuditEvent.subject_type == "subscription",
                        AuditEvent.subject_id.in_([str(i) for i in session.scalars(subscriptions)]),
                    ),
                )
            )
        if query.subscription is not None:
            stmt = stmt.where(
                or_(
                    and_(
                        AuditEvent.subject_type == "subscription",
                        AuditEvent.subject_id == str(query.subscription),
                    ),
                    AuditEvent.data["subscription_id"].as_integer() == query.subscription,
                )
            )
        if query.action_id is not None:
            stmt = stmt.where(AuditEvent.data["action_id"].as_integer() == query.action_id)
        if query.actor is not None:
            stmt = stmt.where(AuditEvent.actor == query.actor)
        if since is not None:
            stmt = stmt.where(AuditEvent.occurred_at >= _start(since))
        if until is not None:
            stmt = stmt.where(AuditEvent.occurred_at < _start(until + timedelta(days=1)))
        events = session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(query.limit)).all()
        return [
            EventRow(
                e.id, e.occurred_at, e.actor, e.action, e.subject_type, e.subject_id, e.data or {}
            )
            for e in reversed(events)
        ]
