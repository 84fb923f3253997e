"""Collections: each customer's stage, promises to pay, policy versions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
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
from riskdesk.money import Money


class CollectionState(Base):
    """Where a customer stands in the collections policy (stage NULL = in good standing)."""

    __tablename__ = "collection_states"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    stage: Mapped[str | None] = mapped_column(String(64))
    entered_on: Mapped[date | None] = mapped_column(Date)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    orders_blocked: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # Whether the stage holds the customer's subscriptions suspended for non-payment.
    subscriptions_suspended: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # How many stage changes were recorded for the customer, and the key of the latest: the
    # next transition's key counts on, so leaving and re-entering a stage on one day is a
    # new transition with new actions (migration 0005).
    transitions: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    transition_key: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromiseStatus(StrEnum):
    ACTIVE = "active"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class PromiseToPay(Base):
    """A customer's promise to pay `amount` by `due_on`, recorded by a collector."""

    __tablename__ = "promises_to_pay"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    promised_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column("amount_micros", Micros)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PromiseStatus.ACTIVE.value)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_promises_to_pay_customer_status", "customer_id", "status"),
        CheckConstraint(f"status in {sql_in(PromiseStatus)}", name="status"),
        CheckConstraint("amount_micros > 0", name="amount_positive"),
        CheckConstraint("due_on >= promised_on", name="due_after_promise"),
    )

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)


class PolicyVersion(Base):
    """A collections policy file as loaded: `version` is the sha256 of its content."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- cases


class PendingReevaluation(Base):
    """A customer to judge again, written in the transaction of the change that calls for it
    (a payment): a command killed after that commit leaves the row, and the next command that
    touches collections re-evaluates the customer first, then deletes it (migration 0007)."""

    __tablename__ = "pending_reevaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    cause: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
