"""The sync's part for budgets and support: customers' usage spending budgets, the status of
open service requests riskdesk opened through the API, and the support topics cache.

Fetched with everything else before the book is touched (`fetch_support`), written in the
sync's one transaction (`apply_support`). What the cloud's documentation does not list is
not asked for (`riskdesk.providers.errors.offered`): on the 21Vianet cloud the sync reads no
budgets, topics or service requests and says so (`SyncReport.not_offered`). Service
requests filed by hand (`manual`) are moved by a person, never by the sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.db.models import (
    Customer,
    ServiceRequestRecord,
    ServiceRequestStatus,
    SupportTopicRecord,
)
from riskdesk.money import beyond_limit
from riskdesk.providers.base import Provider
from riskdesk.providers.errors import PermanentProviderError, ProviderResponseError, offered
from riskdesk.providers.records import Customer as WireCustomer
from riskdesk.providers.records import ServiceRequest, SupportTopic
from riskdesk.providers.records import Subscription as WireSubscription


def book_status(provider_status: str | None) -> ServiceRequestStatus:
    """riskdesk's status for the provider's (``none`` and unknown spellings read as open)."""
    value = (provider_status or "").lower()
    if value == "closed":
        return ServiceRequestStatus.CLOSED
    if value in ("attention_needed", "attentionneeded"):
        return ServiceRequestStatus.ATTENTION_NEEDED
    return ServiceRequestStatus.OPEN


@dataclass
class SupportFetch:
    """What was read: budgets by customer tenant id, topics, followed requests by reference."""

    budgets: dict[str, Decimal | None] = field(default_factory=dict)
    topics: list[SupportTopic] | None = None  # None: not read (not offered)
    requests: dict[str, ServiceRequest] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # references the provider does not know
    not_offered: list[str] = field(default_factory=list)


def open_references(connection: Connection, cloud: str) -> list[str]:
    """References of the book's open requests opened through the API on `cloud`."""
    return list(
        connection.execute(
            select(ServiceRequestRecord.provider_reference)
            .where(
                ServiceRequestRecord.cloud == cloud,
                ServiceRequestRecord.manual.is_(False),
                ServiceRequestRecord.status != ServiceRequestStatus.CLOSED.value,
            )
            .order_by(ServiceRequestRecord.id)
        ).scalars()
    )


def fetch_support(
    provider: Provider,
    customers: Sequence[WireCustomer],
    subscriptions: dict[str, list[WireSubscription]],
    references: Sequence[str],
) -> SupportFetch:
    """Budgets of customers with usage-billed subscriptions, topics, followed requests."""
    fetched = SupportFetch()
    cloud = provider.cloud
    if offered("usage_budget", cloud):
        for customer in customers:
            if not any(s.billing_type == "usage" for s in subscriptions.get(customer.id, [])):
                continue
            budget = provider.get_usage_budget(customer.id)
            if budget.amount is not None:
                problem = beyond_limit(budget.amount)
                if problem is not None or budget.amount < 0:
                    raise ProviderResponseError(
                        f"usage budget of customer {customer.id}: "
                        f"{problem or f'negative amount {budget.amount}'}",
                        call=f"get_usage_budget({customer.id})",
                    )
            fetched.budgets[customer.id] = budget.amount
    else:
        fetched.not_offered.append("usage_budget")
    if offered("service_requests", cloud):
        fetched.topics = list(provider.list_support_topics())
        for reference in references:
            try:
                fetched.requests[reference] = provider.get_service_request(reference)
            except PermanentProviderError as exc:
                if exc.status != 404:
                    raise
                fetched.missing.append(reference)
    else:
        fetched.not_offered.append("service_requests")
    return fetched


@dataclass
class SupportCounts:
    budgets_read: int = 0
    budgets_changed: int = 0
    service_requests_followed: int = 0
    service_requests_changed: int = 0
    support_topics: int = 0


def apply_support(
    session: Session,
    fetched: SupportFetch,
    counts: SupportCounts,
    *,
    cloud: str,
    now: datetime,
    actor: str,
) -> list[dict[str, Any]]:
    """Write budgets, request statuses and topics; returns the differences to report
    (requests the provider no longer knows) as dicts for `Difference`."""
    _apply_budgets(session, fetched.budgets, counts, now, actor)
    if fetched.topics is not None:
        apply_topics(session, fetched.topics, counts, now)
    return _apply_requests(session, fetched, counts, cloud, now, actor)


def _apply_budgets(
    session: Session,
    budgets: dict[str, Decimal | None],
    counts: SupportCounts,
    now: datetime,
    actor: str,
) -> None:
    counts.budgets_read = len(budgets)
    if not budgets:
        return
    wanted = {k.lower(): v for k, v in budgets.items()}
    for customer in session.scalars(select(Customer)):
        key = customer.provider_customer_id.lower()
        if key not in wanted:
            continue
        amount = wanted[key]
        currency = None if amount is None else customer.currency
        if customer.usage_budget == amount and (
            amount is None or customer.usage_budget_currency == currency
        ):
            continue
        old = customer.usage_budget_money
        customer.usage_budget = amount
        customer.usage_budget_currency = currency
        counts.budgets_changed += 1
        audit.record(
            session,
            actor=actor,
            action="customer.usage_budget_synced",
            subject_type="customer",
            subject_id=customer.id,
            data={
                "old": None if old is None else str(old.amount),
                "new": None if amount is None else str(customer.usage_budget_money.amount),  # type: ignore[union-attr]
                "currency": currency or (old.currency if old else customer.currency),
            },
        )
    session.flush()
    ids = list(budgets)
    for start in range(0, len(ids), 500):
        session.execute(
            update(Customer)
            .where(Customer.provider_customer_id.in_(ids[start : start + 500]))
            .values(usage_budget_synced_at=now)
        )


def apply_topics(
    session: Session, topics: list[SupportTopic], counts: SupportCounts, now: datetime
) -> None:
    kept = {t.topic_id: t for t in session.scalars(select(SupportTopicRecord))}
    seen = set()
    for topic in topics:
        topic_id = str(topic.id)[:32]
        seen.add(topic_id)
        row = kept.get(topic_id)
        name = (topic.name or "")[:200] or None
        if row is None:
            session.add(
                SupportTopicRecord(
                    topic_id=topic_id, name=name, description=topic.description, synced_at=now
                )
            )
        else:
            row.name, row.description, row.synced_at = name, topic.description, now
    for topic_id, row in kept.items():
        if topic_id not in seen:
            session.delete(row)
    counts.support_topics = len(seen)


def _apply_requests(
    session: Session,
    fetched: SupportFetch,
    counts: SupportCounts,
    cloud: str,
    now: datetime,
    actor: str,
) -> list[dict[str, Any]]:
    references = [*fetched.requests, *fetched.missing]
    if not references:
        return []
    rows = {
        r.provider_reference: r
        for r in session.scalars(
            select(ServiceRequestRecord).where(
                ServiceRequestRecord.cloud == cloud,
                ServiceRequestRecord.provider_reference.in_(references),
            )
        )
    }
    for reference, wire in fetched.requests.items():
        row = rows.get(reference)
        if row is None or row.manual:
            continue
        counts.service_requests_followed += 1
        row.last_synced_at = now
        status = book_status(wire.status)
        if status.value == row.status and row.provider_status == wire.status:
            continue
        old = row.status
        row.status = status.value
        row.provider_status = wire.status
        row.updated_at = now
        row.closed_at = now if status is ServiceRequestStatus.CLOSED else None
        row.timeline = [
            *(row.timeline or []),
            {"at": now.isoformat(), "status": status.value, "by": actor, "note": "at the provider"},
        ]
        counts.service_requests_changed += 1
        audit.record(
            session,
            actor=actor,
            action="service_request.status_synced",
            subject_type="service_request",
            subject_id=row.id,
            data={"reference": reference, "status": [old, status.value]},
        )
    differences = []
    customers = dict(session.execute(select(Customer.id, Customer.provider_customer_id)).all())
    for reference in fetched.missing:
        row = rows.get(reference)
        if row is None:
            continue
        differences.append(
            {
                "kind": "service_request_missing_at_provider",
                "subject": reference,
                "customer": customers.get(row.customer_id, ""),
                "book": row.status,
                "provider": None,
            }
        )
        audit.record(
            session,
            actor=actor,
            action="sync.difference",
            subject_type="service_request",
            subject_id=row.id,
            data={"kind": "service_request_missing_at_provider", "reference": reference},
        )
    return differences
