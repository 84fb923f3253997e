"""The book's tables.

Money columns are `Micros` (exact integers, see `riskdesk.db.types`) and are named
`*_micros` in SQL; every amount sits next to its currency. Dates that are calendar days
(invoice dates, usage days) are `Date`; moments are `UTCDateTime`.

Provider identifiers (Partner Center customer tenant id, subscription id, order id) are kept
as text next to riskdesk's own integer keys, so a row can always be traced to the provider.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from riskdesk.db.types import Micros, UTCDateTime
from riskdesk.money import Money

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    pass


Base.metadata.naming_convention = NAMING


class SubscriptionKind(StrEnum):
    SEAT = "seat"  # licence-based: quantity x unit price per billing cycle
    CONSUMPTION = "consumption"  # usage-based (Azure plan): billed from rated usage


class SuspensionReason(StrEnum):
    NON_PAYMENT = "non_payment"
    FRAUD_INVESTIGATION = "fraud_investigation"
    MISUSE = "misuse"
    MANUAL = "manual"


class OrderStatus(StrEnum):
    OPEN = "open"  # placed at the provider, not yet on an invoice: part of exposure
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_customer_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    billing_email: Mapped[str | None] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    credit_limit: Mapped[Decimal | None] = mapped_column("credit_limit_micros", Micros)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_on: Mapped[date] = mapped_column(Date)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="customer")

    __table_args__ = (CheckConstraint("payment_terms_days >= 0", name="terms_non_negative"),)

    @property
    def credit_limit_money(self) -> Money | None:
        return None if self.credit_limit is None else Money(self.credit_limit, self.currency)


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    provider_subscription_id: Mapped[str] = mapped_column(String(64), unique=True)
    offer_id: Mapped[str] = mapped_column(String(100))
    offer_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column("unit_price_micros", Micros, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3))
    billing_cycle: Mapped[str] = mapped_column(String(16))  # monthly | annual | none
    provider_status: Mapped[str] = mapped_column(String(16), default="active")
    created_on: Mapped[date] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="subscriptions")
    suspension_reasons: Mapped[list[SubscriptionSuspension]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("kind in ('seat', 'consumption')", name="kind"),
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
    )


class SubscriptionSuspension(Base):
    """One reason a subscription is held. It stays suspended while any row exists."""

    __tablename__ = "subscription_suspensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    subscription: Mapped[Subscription] = relationship(back_populates="suspension_reasons")

    __table_args__ = (
        UniqueConstraint("subscription_id", "reason", name="uq_subscription_suspensions_reason"),
        CheckConstraint(
            "reason in ('non_payment', 'fraud_investigation', 'misuse', 'manual')", name="reason"
        ),
    )


class Invoice(Base):
    """An invoice the reseller issued to its customer: what the customer owes."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(64), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column("total_micros", Micros)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept by riskdesk.book.payments.refresh_settlement from the allocations: all that was
    # ever applied, and the day the invoice became fully paid (NULL while anything is open).
    # "Open as of D" then reads only invoices not settled by D.
    paid: Mapped[Decimal] = mapped_column(
        "paid_micros", Micros, default=Decimal(0), server_default=text("0")
    )
    settled_on: Mapped[date | None] = mapped_column(Date)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.line_no"
    )

    __table_args__ = (
        Index("ix_invoices_customer_issued", "customer_id", "issued_on"),
        Index(
            "ix_invoices_unsettled",
            "settled_on",
            "issued_on",
            "customer_id",
            "currency",
            "due_on",
            "disputed",
            "total_micros",
            "paid_micros",
            "id",
        ),
        CheckConstraint("due_on >= issued_on", name="due_after_issue"),
    )

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    quantity: Mapped[Decimal] = mapped_column("quantity_micros", Micros, default=Decimal(1))
    amount: Mapped[Decimal] = mapped_column("amount_micros", Micros)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    __table_args__ = (UniqueConstraint("invoice_id", "line_no", name="uq_invoice_lines_no"),)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    received_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column("amount_micros", Micros)
    method: Mapped[str | None] = mapped_column(String(32))
    # Invoice numbers the customer said this payment is for; empty means oldest-first.
    applies_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Kept by refresh_settlement: all that was ever applied, and the day nothing was left.
    applied: Mapped[Decimal] = mapped_column(
        "applied_micros", Micros, default=Decimal(0), server_default=text("0")
    )
    settled_on: Mapped[date | None] = mapped_column(Date)

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index(
            "ix_payments_unsettled",
            "settled_on",
            "received_on",
            "customer_id",
            "currency",
            "amount_micros",
            "applied_micros",
            "id",
        ),
        CheckConstraint("amount_micros > 0", name="amount_positive"),
    )


class PaymentAllocation(Base):
    """The part of a payment applied to one invoice.

    `applied_on` repeats the payment's date so "what was open on day D" needs no join.
    """

    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    applied_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column("amount_micros", Micros)

    payment: Mapped[Payment] = relationship(back_populates="allocations")

    __table_args__ = (
        # Covering (amount included): "paid by day D" per invoice and per payment is read
        # from the index alone by the every-customer facts query.
        Index("ix_payment_allocations_invoice", "invoice_id", "applied_on", "amount_micros"),
        Index("ix_payment_allocations_payment", "payment_id", "applied_on", "amount_micros"),
        # "What was applied after D" for as-of queries: empty for D = today.
        Index(
            "ix_payment_allocations_applied",
            "applied_on",
            "invoice_id",
            "payment_id",
            "amount_micros",
        ),
        CheckConstraint("amount_micros > 0", name="amount_positive"),
    )


class UsageRecord(Base):
    """One day of rated usage of one meter (Partner Center daily rated usage).

    `provider_subscription_id` is the Azure plan and `entitlement_id` the Azure subscription
    inside it. `row_hash` is a 64-bit hash of the export row's identity, so re-importing a
    file adds nothing. `invoice_number` is empty until the usage is billed.
    """

    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    provider_subscription_id: Mapped[str] = mapped_column(String(64))
    entitlement_id: Mapped[str | None] = mapped_column(String(64))
    usage_date: Mapped[date] = mapped_column(Date)
    meter_id: Mapped[str] = mapped_column(String(64))
    meter_category: Mapped[str | None] = mapped_column(String(100))
    meter_name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)  # a meter reading, not money
    unit: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column("amount_micros", Micros)
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (Index("ix_usage_records_customer_date", "customer_id", "usage_date"),)


class ProviderInvoiceLine(Base):
    """A line of the provider's billed invoice reconciliation: what the reseller is charged.

    This is the reseller's cost for a customer, not the customer's debt (that is `Invoice`).
    """

    __tablename__ = "provider_invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(String(64))
    provider_subscription_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    product_name: Mapped[str | None] = mapped_column(String(200))
    sku_name: Mapped[str | None] = mapped_column(String(200))
    charge_type: Mapped[str | None] = mapped_column(String(64))
    charge_start: Mapped[date | None] = mapped_column(Date)
    charge_end: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[float] = mapped_column(Float)
    unit_price: Mapped[Decimal] = mapped_column("unit_price_micros", Micros)
    subtotal: Mapped[Decimal] = mapped_column("subtotal_micros", Micros)
    tax: Mapped[Decimal] = mapped_column("tax_micros", Micros)
    total: Mapped[Decimal] = mapped_column("total_micros", Micros)
    currency: Mapped[str] = mapped_column(String(3))
    row_hash: Mapped[int] = mapped_column(BigInteger, unique=True)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    provider_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    offer_id: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column("amount_micros", Micros)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.OPEN.value)

    __table_args__ = (
        CheckConstraint("status in ('open', 'invoiced', 'cancelled')", name="status"),
    )


class ImportRun(Base):
    """One file import: what came in, what was kept, what was refused."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Append-only, hash-chained record of every state change a person would ask about."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)


class ProviderFraudEvent(Base):
    """A fraud notification from the provider (Partner Center `fraudEvents`), as last synced.

    Kept apart from riskdesk's own alerts: the provider's word on what it saw, with its status.
    """

    __tablename__ = "provider_fraud_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    provider_customer_id: Mapped[str | None] = mapped_column(String(64))
    provider_subscription_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SyncState(Base):
    """What the last provider sync got to, per stream (for incremental syncs)."""

    __tablename__ = "sync_state"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- collections


class ActionKind(StrEnum):
    NOTIFY_EMAIL = "notify_email"
    SUSPEND_SUBSCRIPTION = "suspend_subscription"
    REACTIVATE_SUBSCRIPTION = "reactivate_subscription"
    OPEN_REVIEW_CASE = "open_review_case"
    WEBHOOK = "webhook"


class ActionStatus(StrEnum):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _in(values: type[StrEnum]) -> str:
    return "(" + ", ".join(f"'{v.value}'" for v in values) + ")"


#: Kinds no longer planned whose finished rows stay as history (migration 0004).
RETIRED_ACTION_KINDS = ("block_orders", "unblock_orders")


def _kinds_allowed() -> str:
    values = [k.value for k in ActionKind] + list(RETIRED_ACTION_KINDS)
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class OutboxAction(Base):
    """One intended effect, written in the transaction that decided it (see riskdesk.actions).

    `idempotency_key` makes deciding twice enqueue once. The executor claims a due `pending`
    row (`in_progress`, `claimed_at` = the start of its lease), performs the effect and records
    `done` with `result`, or `pending` again with a later `next_attempt_at`, or `failed`.
    `effect_started_at` is written just before an effect that cannot be repeated safely (an
    e-mail) so a crash inside it is recognised rather than silently repeated.
    """

    __tablename__ = "outbox_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effect_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # "Due pending work": WHERE status = 'pending' AND next_attempt_at <= now ORDER BY it.
        Index("ix_outbox_actions_due", "status", "next_attempt_at", "id"),
        # Stale leases: WHERE status = 'in_progress' AND claimed_at < now - lease; partial, so
        # the many rows that are not in progress cost it nothing (migration 0004).
        Index(
            "ix_outbox_actions_claimed",
            "claimed_at",
            sqlite_where=text("status = 'in_progress'"),
            postgresql_where=text("status = 'in_progress'"),
        ),
        Index("ix_outbox_actions_subscription", "subscription_id"),
        CheckConstraint(f"kind in {_kinds_allowed()}", name="kind"),
        CheckConstraint(f"status in {_in(ActionStatus)}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )


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
        CheckConstraint(f"status in {_in(PromiseStatus)}", name="status"),
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
        CheckConstraint(f"kind in {_in(CaseKind)}", name="kind"),
        CheckConstraint(f"status in {_in(CaseStatus)}", name="status"),
    )


# --------------------------------------------------------------------------- disputes


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
        CheckConstraint(f"outcome in {_in(DisputeOutcome)}", name="outcome"),
        CheckConstraint("(outcome IS NULL) = (resolved_at IS NULL)", name="resolved_with_outcome"),
    )
