"""The sync's write phase: the fetched customers, subscriptions and fraud events into the book.

Each change is audited; differences a person must decide on (a status that differs, a
customer or subscription the provider no longer lists) are reported and audited, never
silently overwritten (see `riskdesk.providers.sync`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.db.models import Customer, ProviderFraudEvent, Subscription, SyncState
from riskdesk.money import CURRENCIES, currency_for_country
from riskdesk.providers.records import Customer as WireCustomer
from riskdesk.providers.records import FraudEvent
from riskdesk.providers.records import Subscription as WireSubscription


@dataclass(frozen=True)
class Difference:
    """Something the book and the provider disagree on that a person should decide."""

    kind: str  # subscription_status | subscription_missing_at_provider | customer_missing_...
    subject: str  # provider id
    customer: str  # provider customer id
    book: str | None
    provider: str | None
    adopted: bool = False

    def __str__(self) -> str:
        what = self.kind.replace("_", " ")
        verdict = " (adopted)" if self.adopted else ""
        return f"{what}: {self.subject}: book {self.book!r}, provider {self.provider!r}{verdict}"


@dataclass
class SyncReport:
    customers_seen: int = 0
    customers_new: int = 0
    customers_updated: int = 0
    subscriptions_seen: int = 0
    subscriptions_new: int = 0
    subscriptions_updated: int = 0
    usage_read: int = 0
    usage_inserted: int = 0
    usage_duplicate: int = 0
    invoices_synced: int = 0
    fraud_events_seen: int = 0
    fraud_events_new: int = 0
    fraud_events_updated: int = 0
    budgets_read: int = 0
    budgets_changed: int = 0
    service_requests_followed: int = 0
    service_requests_changed: int = 0
    support_topics: int = 0
    not_offered: list[str] = field(default_factory=list)  # what the cloud's docs do not list
    differences: list[Difference] = field(default_factory=list)
    seconds: float = 0.0


def _day(moment: datetime | None) -> date | None:
    return None if moment is None else moment.astimezone(UTC).date()


def currency_of(customer: WireCustomer, default: str) -> str:
    country = None
    if customer.billing_profile and customer.billing_profile.default_address:
        country = customer.billing_profile.default_address.country
    if not country and customer.company_profile.address:
        country = customer.company_profile.address.country
    currency = currency_for_country(country) if country else None
    return currency if currency in CURRENCIES else default


def apply_customers(
    session: Session,
    customers: Iterable[WireCustomer],
    default_currency: str,
    report: SyncReport,
    actor: str,
) -> None:
    book = {c.provider_customer_id.lower(): c for c in session.scalars(select(Customer))}
    seen = set()
    today = datetime.now(UTC).date()
    for wire in customers:
        key = wire.id.lower()
        seen.add(key)
        profile = wire.company_profile
        billing = wire.billing_profile
        country = billing.default_address.country if billing and billing.default_address else None
        values = {
            "name": (profile.company_name or profile.domain or wire.id)[:200],
            "domain": profile.domain,
            "billing_email": (billing.email if billing else None) or profile.email,
        }
        existing = book.get(key)
        if existing is None:
            customer = Customer(
                provider_customer_id=wire.id,
                country=(country or None) and country.upper()[:2],
                currency=currency_of(wire, default_currency),
                payment_terms_days=30,
                tags=[],
                created_on=today,
                **values,
            )
            session.add(customer)
            session.flush()
            report.customers_new += 1
            audit.record(
                session,
                actor=actor,
                action="customer.synced_new",
                subject_type="customer",
                subject_id=customer.id,
                data={
                    "provider_customer_id": wire.id,
                    "name": customer.name,
                    "currency": customer.currency,
                },
            )
            continue
        changes = {
            k: [getattr(existing, k), v]
            for k, v in values.items()
            if v is not None and getattr(existing, k) != v
        }
        if changes:
            for k, (_old, new) in changes.items():
                setattr(existing, k, new)
            report.customers_updated += 1
            audit.record(
                session,
                actor=actor,
                action="customer.synced_changes",
                subject_type="customer",
                subject_id=existing.id,
                data={"changes": changes},
            )
    for key, customer in book.items():
        if key not in seen:
            differ(
                session,
                report,
                actor,
                Difference(
                    "customer_missing_at_provider",
                    customer.provider_customer_id,
                    customer.provider_customer_id,
                    "present",
                    None,
                ),
            )


def apply_subscriptions(
    session: Session,
    by_customer: dict[str, list[WireSubscription]],
    adopt_status: bool,
    report: SyncReport,
    actor: str,
) -> None:
    customers = {c.provider_customer_id.lower(): c for c in session.scalars(select(Customer))}
    book = {s.provider_subscription_id.lower(): s for s in session.scalars(select(Subscription))}
    for customer_key, subs in by_customer.items():
        customer = customers[customer_key.lower()]
        seen = set()
        for wire in subs:
            key = wire.id.lower()
            seen.add(key)
            existing = book.get(key)
            if existing is None:
                sub = Subscription(
                    customer_id=customer.id,
                    provider_subscription_id=wire.id,
                    offer_id=(wire.offer_id or "")[:100],
                    offer_name=(wire.offer_name or wire.friendly_name or wire.offer_id or wire.id)[
                        :200
                    ],
                    kind="consumption" if wire.billing_type == "usage" else "seat",
                    quantity=max(wire.quantity, 0),
                    unit_price=Decimal(0),
                    currency=customer.currency,
                    billing_cycle=wire.billing_cycle or "none",
                    provider_status=wire.status,
                    created_on=_day(wire.creation_date) or datetime.now(UTC).date(),
                )
                session.add(sub)
                session.flush()
                book[key] = sub
                report.subscriptions_new += 1
                audit.record(
                    session,
                    actor=actor,
                    action="subscription.synced_new",
                    subject_type="subscription",
                    subject_id=sub.id,
                    data={
                        "provider_subscription_id": wire.id,
                        "offer_id": wire.offer_id,
                        "status": wire.status,
                        "customer": customer.provider_customer_id,
                    },
                )
                continue
            changes: dict[str, list[Any]] = {}
            if existing.quantity != wire.quantity:
                changes["quantity"] = [existing.quantity, wire.quantity]
                existing.quantity = max(wire.quantity, 0)
            name = wire.offer_name or wire.friendly_name
            if name and existing.offer_name != name[:200]:
                changes["offer_name"] = [existing.offer_name, name[:200]]
                existing.offer_name = name[:200]
            if changes:
                report.subscriptions_updated += 1
                audit.record(
                    session,
                    actor=actor,
                    action="subscription.synced_changes",
                    subject_type="subscription",
                    subject_id=existing.id,
                    data={"changes": changes},
                )
            if existing.provider_status != wire.status:
                difference = Difference(
                    "subscription_status",
                    wire.id,
                    customer.provider_customer_id,
                    existing.provider_status,
                    wire.status,
                    adopted=adopt_status,
                )
                if adopt_status:
                    existing.provider_status = wire.status
                differ(session, report, actor, difference, subject_id=existing.id)
        for sub in session.scalars(
            select(Subscription).where(Subscription.customer_id == customer.id)
        ):
            if sub.provider_subscription_id.lower() not in seen:
                differ(
                    session,
                    report,
                    actor,
                    Difference(
                        "subscription_missing_at_provider",
                        sub.provider_subscription_id,
                        customer.provider_customer_id,
                        sub.provider_status,
                        None,
                    ),
                    subject_id=sub.id,
                )


def differ(
    session: Session,
    report: SyncReport,
    actor: str,
    difference: Difference,
    *,
    subject_id: int | None = None,
) -> None:
    report.differences.append(difference)
    audit.record(
        session,
        actor=actor,
        action="sync.status_adopted" if difference.adopted else "sync.difference",
        subject_type="subscription" if difference.kind.startswith("subscription") else "customer",
        subject_id=subject_id if subject_id is not None else difference.subject,
        data={
            "kind": difference.kind,
            "provider_id": difference.subject,
            "customer": difference.customer,
            "book": difference.book,
            "provider": difference.provider,
        },
    )


def apply_fraud_events(
    session: Session, events: Iterable[FraudEvent], report: SyncReport, actor: str
) -> None:
    customers = {c.provider_customer_id.lower(): c.id for c in session.scalars(select(Customer))}
    book = {e.event_id: e for e in session.scalars(select(ProviderFraudEvent))}
    now = datetime.now(UTC)
    for event in events:
        raw = event.to_wire()
        existing = book.get(event.event_id)
        first = event.first_occurrence or event.first_observed or event.event_time
        last = event.last_occurrence or event.last_observed or event.event_time
        if existing is None:
            row = ProviderFraudEvent(
                event_id=event.event_id,
                customer_id=customers.get((event.customer_tenant_id or "").lower()),
                provider_customer_id=event.customer_tenant_id,
                provider_subscription_id=event.subscription_id,
                event_type=event.event_type,
                status=event.event_status,
                first_seen_at=first,
                last_seen_at=last,
                raw=raw,
                synced_at=now,
            )
            session.add(row)
            session.flush()
            book[event.event_id] = row
            report.fraud_events_new += 1
            audit.record(
                session,
                actor=actor,
                action="provider_fraud_event.received",
                subject_type="provider_fraud_event",
                subject_id=event.event_id,
                data={
                    "status": event.event_status,
                    "type": event.event_type,
                    "subscription": event.subscription_id,
                    "customer": event.customer_tenant_id,
                },
            )
        elif existing.status != event.event_status or existing.last_seen_at != last:
            old = existing.status
            existing.status = event.event_status
            existing.last_seen_at = last
            existing.raw = raw
            existing.synced_at = now
            report.fraud_events_updated += 1
            audit.record(
                session,
                actor=actor,
                action="provider_fraud_event.changed",
                subject_type="provider_fraud_event",
                subject_id=event.event_id,
                data={"status": [old, event.event_status]},
            )


def read_state(connection: Connection, stream: str) -> dict[str, Any]:
    row = connection.execute(select(SyncState.value).where(SyncState.stream == stream)).first()
    return dict(row[0]) if row else {}


def set_state(session: Session, stream: str, value: dict[str, Any]) -> None:
    row = session.get(SyncState, stream)
    now = datetime.now(UTC)
    if row is None:
        session.add(SyncState(stream=stream, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
