"""Service requests to the provider about a customer: open one through the API, record one a
person filed by hand, move a hand-filed one through its lifecycle, list and show them.

Opening through the API (`open_service_request`) is what fraud cases call, with a customer
and the evidence text. The request goes to the partner's service requests (page
``create-a-service-request``; the API has no customer field, so the description names the
customer first) and the book keeps it with the customer; the sync follows its status.

On the 21Vianet cloud the documentation lists no service-request API. There opening one is
refused with that reason (`ManualTicketNeeded`), and a person files the ticket with the
provider's support by hand and records it here with the reference the provider gave
(`record_manual_ticket`). A recorded ticket has the same lifecycle (open, attention needed,
closed) and is moved by a person (`update_ticket`), since no API reports its status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.app.deps import Deps
from riskdesk.app.limits import check_fits
from riskdesk.book.customers import find_customer
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    Customer,
    ServiceRequestRecord,
    ServiceRequestStatus,
    SupportTopicRecord,
)
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.providers.base import Provider
from riskdesk.providers.errors import NotOfferedError, offered
from riskdesk.providers.records import ServiceRequestSeverity
from riskdesk.providers.sync_support import SupportCounts, apply_topics, book_status

SEVERITIES: tuple[ServiceRequestSeverity, ...] = ("minimal", "moderate", "critical")
#: Moves a person may make on a recorded (hand-filed) ticket; closed is final.
MOVES = {
    ServiceRequestStatus.OPEN: {ServiceRequestStatus.ATTENTION_NEEDED, ServiceRequestStatus.CLOSED},
    ServiceRequestStatus.ATTENTION_NEEDED: {ServiceRequestStatus.OPEN, ServiceRequestStatus.CLOSED},
    ServiceRequestStatus.CLOSED: set(),
}


class ManualTicketNeeded(NotOfferedError):
    """The cloud offers no service-request API: a person files the ticket by hand."""

    def __init__(self, cloud: str) -> None:
        super().__init__("service_requests", cloud, call="open a service request")
        self.args = (
            f"{self.args[0]}; file the request with the provider's support by hand and record "
            "the reference it gives as a hand-filed ticket",
        )


@dataclass(frozen=True)
class ServiceRequestAsk:
    """What to open a service request with (fraud cases pass a customer and the evidence)."""

    customer: str
    title: str
    evidence: str
    severity: ServiceRequestSeverity = "critical"
    support_topic: str | None = None  # id or name; None: the fraud topic
    case_id: int | None = None
    key: str | None = None  # opening twice with one key opens once


@dataclass(frozen=True)
class ManualTicket:
    """A ticket a person filed with the provider by hand, with the provider's reference."""

    customer: str
    reference: str
    title: str
    evidence: str
    severity: ServiceRequestSeverity = "critical"
    case_id: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class ServiceRequestView:
    id: int
    reference: str
    cloud: str
    customer_id: int
    customer: str
    title: str
    description: str
    severity: str
    support_topic_id: str | None
    status: str
    provider_status: str | None
    manual: bool
    case_id: int | None
    opened_at: datetime
    opened_by: str
    updated_at: datetime
    closed_at: datetime | None
    last_synced_at: datetime | None
    timeline: list[dict[str, Any]] = field(default_factory=list)


def _view(row: ServiceRequestRecord, customer: str) -> ServiceRequestView:
    return ServiceRequestView(
        row.id, row.provider_reference, row.cloud, row.customer_id, customer, row.title,
        row.description, row.severity, row.support_topic_id, row.status, row.provider_status,
        row.manual, row.case_id, row.opened_at, row.opened_by, row.updated_at, row.closed_at,
        row.last_synced_at, list(row.timeline or []),
    )  # fmt: skip


def _check_text(title: str, evidence: str, severity: str) -> None:
    if not title.strip():
        raise InvalidInputError("a service request needs a title")
    check_fits(title, ServiceRequestRecord.title, "--title")
    if not evidence.strip():
        raise InvalidInputError("a service request needs the evidence (its description)")
    if severity not in SEVERITIES:
        raise InvalidInputError(f"severity {severity!r}: expected one of {', '.join(SEVERITIES)}")


def _by_key(session: Session, key: str | None) -> ServiceRequestRecord | None:
    if key is None:
        return None
    check_fits(key, ServiceRequestRecord.source_key, "key")
    return session.scalars(
        select(ServiceRequestRecord).where(ServiceRequestRecord.source_key == key)
    ).first()


def _name(session: Session, customer_id: int) -> str:
    return session.get(Customer, customer_id).name  # type: ignore[union-attr]


def open_service_request(deps: Deps, ask: ServiceRequestAsk, *, actor: str) -> ServiceRequestView:
    """Open a service request with the provider about `ask.customer` and keep it in the book.

    Refused with `ManualTicketNeeded` on a cloud without a service-request API. With a `key`
    already used, returns the request opened then and opens nothing.
    """
    _check_text(ask.title, ask.evidence, ask.severity)
    with session_scope(deps.engine()) as session:
        customer = find_customer(session, ask.customer)
        earlier = _by_key(session, ask.key)
        if earlier is not None:
            return _view(earlier, _name(session, earlier.customer_id))
        customer_id, tenant, name = customer.id, customer.provider_customer_id, customer.name
        topics = list(session.scalars(select(SupportTopicRecord)))
    with deps.open_provider() as provider:
        if not offered("service_requests", provider.cloud):
            raise ManualTicketNeeded(provider.cloud)
        cloud = provider.cloud
        if not topics:
            topics = _refresh_topics(deps, provider)
        topic = _choose_topic(topics, ask.support_topic)
        description = f"Customer: {name} (tenant {tenant})\n\n{ask.evidence.strip()}"
        created = provider.create_service_request(
            ask.title.strip(), description, ask.severity, topic.topic_id
        )
    if not created.id:
        raise InvalidInputError("the provider answered a new service request without its id")
    now = deps.now()
    status = book_status(created.status)
    with session_scope(deps.engine()) as session:
        row = ServiceRequestRecord(
            provider_reference=str(created.id)[:64], cloud=cloud, customer_id=customer_id,
            case_id=ask.case_id, source_key=ask.key, manual=False, title=ask.title.strip(),
            description=description, severity=ask.severity, support_topic_id=topic.topic_id,
            status=status.value, provider_status=created.status, opened_at=now, opened_by=actor,
            updated_at=now, last_synced_at=now,
            timeline=[{"at": now.isoformat(), "status": status.value, "by": actor,
                       "note": "opened through the provider's API"}],
        )  # fmt: skip
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="service_request.opened",
            subject_type="service_request",
            subject_id=row.id,
            data={"reference": row.provider_reference, "customer": tenant, "cloud": cloud,
                  "topic": topic.topic_id, "severity": ask.severity, "case": ask.case_id},
        )  # fmt: skip
        return _view(row, name)


def record_manual_ticket(deps: Deps, ticket: ManualTicket, *, actor: str) -> ServiceRequestView:
    """Record a ticket a person filed with the provider by hand (its reference typed in)."""
    _check_text(ticket.title, ticket.evidence, ticket.severity)
    reference = ticket.reference.strip()
    if not reference:
        raise InvalidInputError("a hand-filed ticket needs the reference the provider gave")
    check_fits(reference, ServiceRequestRecord.provider_reference, "--reference")
    with deps.open_provider() as provider:
        cloud = provider.cloud
    now = deps.now()
    with session_scope(deps.engine()) as session:
        customer = find_customer(session, ticket.customer)
        earlier = _by_key(session, ticket.key)
        if earlier is not None:
            return _view(earlier, _name(session, earlier.customer_id))
        taken = session.scalars(
            select(ServiceRequestRecord).where(
                ServiceRequestRecord.cloud == cloud,
                ServiceRequestRecord.provider_reference == reference,
            )
        ).first()
        if taken is not None:
            raise ConflictError(
                f"service request {reference} is already recorded (id {taken.id}, customer "
                f"{_name(session, taken.customer_id)})"
            )
        why = (
            "filed by hand: this cloud's documentation lists no service-request API"
            if not offered("service_requests", cloud)
            else "filed by hand"
        )
        row = ServiceRequestRecord(
            provider_reference=reference, cloud=cloud, customer_id=customer.id,
            case_id=ticket.case_id, source_key=ticket.key, manual=True,
            title=ticket.title.strip(), description=ticket.evidence.strip(),
            severity=ticket.severity, status=ServiceRequestStatus.OPEN.value, opened_at=now,
            opened_by=actor, updated_at=now,
            timeline=[{"at": now.isoformat(), "status": "open", "by": actor, "note": why}],
        )  # fmt: skip
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="service_request.recorded",
            subject_type="service_request",
            subject_id=row.id,
            data={"reference": reference, "customer": customer.provider_customer_id,
                  "cloud": cloud, "manual": True, "why": why, "case": ticket.case_id},
        )  # fmt: skip
        return _view(row, customer.name)


def _find(session: Session, reference: str) -> ServiceRequestRecord:
    rows = list(
        session.scalars(
            select(ServiceRequestRecord).where(
                ServiceRequestRecord.provider_reference == reference.strip()
            )
        )
    )
    if not rows:
        raise NotFoundError(f"unknown service request {reference!r}")
    if len(rows) > 1:
        clouds = ", ".join(sorted(r.cloud for r in rows))
        raise InvalidInputError(f"service request {reference!r} is recorded on clouds {clouds}")
    return rows[0]


def update_ticket(
    deps: Deps,
    reference: str,
    *,
    actor: str,
    status: ServiceRequestStatus | None = None,
    note: str | None = None,
) -> ServiceRequestView:
    """Move a hand-filed ticket to `status` and/or add a note to a request's timeline.

    The status of a request opened through the API is the provider's (the sync follows it):
    a person may add a note to it, not move it. Closed is final.
    """
    if status is None and not (note and note.strip()):
        raise InvalidInputError("give a new status, a note, or both")
    now = deps.now()
    with session_scope(deps.engine()) as session:
        row = _find(session, reference)
        current = ServiceRequestStatus(row.status)
        if status is not None and status != current:
            if not row.manual:
                raise ConflictError(
                    f"service request {row.provider_reference} was opened through the "
                    "provider's API: its status is the provider's, followed by sync"
                )
            if status not in MOVES[current]:
                raise ConflictError(
                    f"service request {row.provider_reference} is {current.value}: it cannot "
                    f"become {status.value}"
                    + (
                        " (a closed request stays closed)"
                        if current is ServiceRequestStatus.CLOSED
                        else ""
                    )
                )
        new = status or current
        entry = {
            "at": now.isoformat(),
            "status": new.value,
            "by": actor,
            "note": (note or "").strip(),
        }
        row.timeline = [*(row.timeline or []), entry]
        row.updated_at = now
        if new != current:
            row.status = new.value
            row.closed_at = now if new is ServiceRequestStatus.CLOSED else None
        audit.record(
            session,
            actor=actor,
            action="service_request.updated",
            subject_type="service_request",
            subject_id=row.id,
            data={"reference": row.provider_reference, "status": [current.value, new.value],
                  "note": entry["note"]},
        )  # fmt: skip
        session.flush()
        return _view(row, _name(session, row.customer_id))


def list_service_requests(
    deps: Deps, *, customer: str | None = None, status: ServiceRequestStatus | None = None
) -> list[ServiceRequestView]:
    """The book's service requests, oldest first (optionally one customer's, one status)."""
    with session_scope(deps.engine()) as session:
        query = select(ServiceRequestRecord, Customer.name).join(
            Customer, Customer.id == ServiceRequestRecord.customer_id
        )
        if customer is not None:
            query = query.where(
                ServiceRequestRecord.customer_id == find_customer(session, customer).id
            )
        if status is not None:
            query = query.where(ServiceRequestRecord.status == status.value)
        rows = session.execute(query.order_by(ServiceRequestRecord.id)).all()
        return [_view(row, name) for row, name in rows]


def show_service_request(deps: Deps, reference: str) -> ServiceRequestView:
    with session_scope(deps.engine()) as session:
        row = _find(session, reference)
        return _view(row, _name(session, row.customer_id))


# ------------------------------------------------------------------ the provider's side


@dataclass(frozen=True)
class ProviderRequestRow:
    reference: str
    title: str
    status: str | None
    severity: str
    created: datetime | None
    in_book: bool


def customer_requests_at_provider(deps: Deps, customer: str) -> list[ProviderRequestRow]:
    """The customer's service requests as the provider lists them now
    (``get-all-service-requests-for-a-customer``), each marked whether the book has it."""
    with session_scope(deps.engine()) as session:
        tenant = find_customer(session, customer).provider_customer_id
        known = set(session.scalars(select(ServiceRequestRecord.provider_reference)))
    with deps.open_provider() as provider:
        if not offered("service_requests", provider.cloud):
            raise ManualTicketNeeded(provider.cloud)
        found = list(provider.list_customer_service_requests(tenant))
    return [
        ProviderRequestRow(
            str(r.id or ""), r.title, r.status, r.severity, r.created_date, str(r.id) in known
        )
        for r in found
    ]


@dataclass(frozen=True)
class TopicRow:
    topic_id: str
    name: str | None
    description: str | None


def support_topics(deps: Deps, *, refresh: bool = False) -> list[TopicRow]:
    """The provider's support topics from the book's cache (`refresh`: read them first)."""
    with session_scope(deps.engine()) as session:
        rows = list(
            session.scalars(select(SupportTopicRecord).order_by(SupportTopicRecord.topic_id))
        )
        cached = [TopicRow(r.topic_id, r.name, r.description) for r in rows]
    if not refresh:
        return cached
    with deps.open_provider() as provider:
        if not offered("service_requests", provider.cloud):
            raise ManualTicketNeeded(provider.cloud)
        fresh = _refresh_topics(deps, provider)
    return [TopicRow(r.topic_id, r.name, r.description) for r in fresh]


def _refresh_topics(deps: Deps, provider: Provider) -> list[SupportTopicRecord]:
    topics = list(provider.list_support_topics())
    with session_scope(deps.engine()) as session:
        apply_topics(session, topics, SupportCounts(), deps.now())
        session.flush()
        rows = list(
            session.scalars(select(SupportTopicRecord).order_by(SupportTopicRecord.topic_id))
        )
        session.expunge_all()
        return rows


def _choose_topic(topics: list[SupportTopicRecord], wanted: str | None) -> SupportTopicRecord:
    if wanted is not None:
        folded = wanted.strip().lower()
        for topic in topics:
            if topic.topic_id == wanted.strip() or (topic.name or "").lower() == folded:
                return topic
        names = ", ".join(f"{t.topic_id} ({t.name})" for t in topics) or "none cached"
        raise InvalidInputError(f"unknown support topic {wanted!r}; the provider's: {names}")
    for topic in topics:
        if "fraud" in (topic.name or "").lower():
            return topic
    names = ", ".join(f"{t.topic_id} ({t.name})" for t in topics) or "none"
    raise InvalidInputError(
        f"no support topic about fraud among the provider's ({names}): name one"
    )
