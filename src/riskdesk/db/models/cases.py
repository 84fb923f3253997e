"""Cases a person works and closes with a resolution."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskdesk.db.models.base import Base, sql_in
from riskdesk.db.types import UTCDateTime


class CaseKind(StrEnum):
    COLLECTIONS_REVIEW = "collections_review"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Case(Base):
    """Something about a customer that a person must look at and close with a resolution.

    At most one open case per customer and kind (a partial unique index): a second request
    to open one adds to the open case instead. `source_key` names what opened it (an outbox
    action's key), so opening twice for the same reason opens once.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value)
    title: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_cases_one_open_per_customer_kind",
            "customer_id",
            "kind",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_cases_status_opened", "status", "opened_at"),
        CheckConstraint(f"kind in {sql_in(CaseKind)}", name="kind"),
        CheckConstraint(f"status in {sql_in(CaseStatus)}", name="status"),
    )


# --------------------------------------------------------------------------- disputes
