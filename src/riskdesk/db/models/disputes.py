"""Invoice disputes: who opened them, why, and how they were resolved."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
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
from riskdesk.db.types import Micros, UTCDateTime


class DisputeOutcome(StrEnum):
    UPHELD = "upheld"  # the customer was right: the invoice is credited, no longer owed
    REJECTED = "rejected"  # the invoice stands and is back in collections


class InvoiceDispute(Base):
    """A customer's dispute of one invoice: why, who recorded it, and how it was resolved.

    `invoices.disputed` says whether a dispute is open now (the facts query reads it); this
    table keeps the history. At most one open dispute per invoice (a partial unique index).
    An upheld dispute credits what was open with a credit note (`credit_payment_id`, a
    `payments` row of method `credit_note` applied to the invoice), so the invoice is settled
    on the day of the credit and earlier days still show what was open then.
    """

    __tablename__ = "invoice_disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    credit_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    credited: Mapped[Decimal | None] = mapped_column("credited_micros", Micros)

    __table_args__ = (
        Index(
            "uq_invoice_disputes_one_open_per_invoice",
            "invoice_id",
            unique=True,
            sqlite_where=text("outcome IS NULL"),
            postgresql_where=text("outcome IS NULL"),
        ),
        CheckConstraint(f"outcome in {sql_in(DisputeOutcome)}", name="outcome"),
        CheckConstraint("(outcome IS NULL) = (resolved_at IS NULL)", name="resolved_with_outcome"),
    )
