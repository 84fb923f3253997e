"""The book: customers, subscriptions and their holds, invoices, payments, usage, orders,
imports."""

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from riskdesk.db.models.base import Base
from riskdesk.db.models.rates import RateText
from riskdesk.db.types import Micros, UTCDateTime
from riskdesk.money import Money


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
    # The provider's usage spending budget (`usagebudget`), as last synced or set: an amount in
    # `usage_budget_currency` (the customer's billing currency); None: none set there.
    usage_budget: Mapped[Decimal | None] = mapped_column("usage_budget_micros", Micros)
    usage_budget_currency: Mapped[str | None] = mapped_column(String(3))
    usage_budget_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_on: Mapped[date] = mapped_column(Date)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="customer")

    __table_args__ = (CheckConstraint("payment_terms_days >= 0", name="terms_non_negative"),)

    @property
    def credit_limit_money(self) -> Money | None:
        return None if self.credit_limit is None else Money(self.credit_limit, self.currency)

    @property
    def usage_budget_money(self) -> Money | None:
        if self.usage_budget is None:
            return None
        return Money(self.usage_budget, self.usage_budget_currency or self.currency)


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
    # A reversed payment (bounced, recorded by mistake: `payments reverse`) stays, with who
    # reversed it, when and why; its allocations are removed (listed in the audit event) and
    # `settled_on` is its own day, so no facts query counts it for any day.
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reversal_reason: Mapped[str | None] = mapped_column(Text)

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

    The row's own conversion, when the export carries one: `pricing_currency` and
    `pc_to_bc_rate` (Partner Center's PCToBCExchangeRate: 1 pricing currency unit = rate
    billing currency units) and its day `pc_to_bc_rate_date`. The facts use it to convert the
    amount back into the customer's currency when that is the row's pricing currency.
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
    pricing_currency: Mapped[str | None] = mapped_column(String(3))
    pc_to_bc_rate: Mapped[Decimal | None] = mapped_column(RateText)
    pc_to_bc_rate_date: Mapped[date | None] = mapped_column(Date)

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
