"""Service requests to the provider (opened through its API, or filed by hand and recorded)
and the provider's support topics, cached."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskdesk.db.models.base import Base, sql_in
from riskdesk.db.types import UTCDateTime


class ServiceRequestStatus(StrEnum):
    """The lifecycle riskdesk keeps, the provider's own statuses (``service-request-resources``:
    none, open, closed, attention_needed) with ``none`` read as open."""

    OPEN = "open"
    ATTENTION_NEEDED = "attention_needed"
    CLOSED = "closed"


class ServiceRequestRecord(Base):
    """A service request about a customer, as riskdesk knows it.

    `manual` is true for a ticket a person filed with the provider by hand (on the 21Vianet
    cloud the documentation lists no service-request API) and recorded with the provider's
    reference; its status is moved by a person. Otherwise riskdesk opened it through the API
    and the sync follows its status. `timeline` lists what happened, oldest first:
    ``{"at", "status", "by", "note"}``. `source_key` makes opening for one reason (a case,
    an outbox action) open one request.
    """

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_reference: Mapped[str] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    manual: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    support_topic_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), default=ServiceRequestStatus.OPEN.value)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timeline: Mapped[list] = mapped_column(JSON, default=list)

    __table_args__ = (
        UniqueConstraint("cloud", "provider_reference", name="uq_service_requests_reference"),
        Index("ix_service_requests_status", "status"),
        CheckConstraint(f"status in {sql_in(ServiceRequestStatus)}", name="status"),
    )


class SupportTopicRecord(Base):
    """A support topic of the provider (``get-service-request-support-topics``), as last synced."""

    __tablename__ = "support_topics"

    topic_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
