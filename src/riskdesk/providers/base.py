"""The `Provider` protocol: the narrow interface riskdesk needs from a reseller programme.

Implemented by `riskdesk.providers.partner_center.PartnerCenter` (which also talks to the
local sandbox). Decisions never call a provider; the executor and the sync do. Every method
raises only `riskdesk.providers.errors.ProviderError` subclasses for provider trouble.

Listing methods return iterators that fetch further pages lazily (following ``links.next``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from riskdesk.providers.records import (
    Customer,
    DailyRatedUsageLineItem,
    FraudEvent,
    FraudEventStatus,
    InvoiceSummary,
    OneTimeInvoiceLineItem,
    ServiceRequest,
    ServiceRequestSeverity,
    Subscription,
    SupportTopic,
)
from riskdesk.providers.records_budget import SpendingBudget

SettableStatus = Literal["active", "suspended"]


@runtime_checkable
class Provider(Protocol):
    @property
    def cloud(self) -> str:
        """ "global" or "china" (the Partner Center operated by 21Vianet): what the cloud's
        documentation lists decides what riskdesk calls (`riskdesk.providers.errors.offered`)."""
        ...

    def list_customers(self) -> Iterator[Customer]: ...

    def list_subscriptions(self, customer_id: str) -> Iterator[Subscription]: ...

    def get_subscription(self, customer_id: str, subscription_id: str) -> Subscription: ...

    def set_subscription_status(
        self, customer_id: str, subscription_id: str, status: SettableStatus
    ) -> Subscription:
        """Suspend (``"suspended"``) or reactivate (``"active"``) a subscription.

        Reads the subscription, then PATCHes the whole resource with the new status; when it
        already has that status, returns it without writing.
        """
        ...

    def list_usage(
        self, currency: str, *, invoice_id: str | None = None
    ) -> Iterator[DailyRatedUsageLineItem]:
        """Daily rated usage: unbilled for the current period, or billed on ``invoice_id``."""
        ...

    def list_invoices(self) -> Iterator[InvoiceSummary]:
        """The partner's invoices (billed usage is read per invoice)."""
        ...

    def list_invoice_lines(
        self, invoice_id: str, currency: str
    ) -> Iterator[OneTimeInvoiceLineItem]: ...

    def list_fraud_events(
        self, status: FraudEventStatus | None = None, subscription_id: str | None = None
    ) -> Iterator[FraudEvent]: ...

    def update_fraud_events(
        self,
        subscription_id: str,
        event_ids: list[str],
        status: FraudEventStatus,
        resolved_reason: Literal["Fraud", "Ignore"] | None = None,
    ) -> list[FraudEvent]: ...

    def list_support_topics(self) -> Iterator[SupportTopic]: ...

    def create_service_request(
        self,
        title: str,
        description: str,
        severity: ServiceRequestSeverity,
        support_topic_id: str,
    ) -> ServiceRequest: ...

    def get_service_request(self, request_id: str) -> ServiceRequest: ...

    def list_service_requests(self) -> Iterator[ServiceRequest]: ...

    def list_customer_service_requests(self, customer_id: str) -> Iterator[ServiceRequest]:
        """The customer's service requests (``get-all-service-requests-for-a-customer``)."""
        ...

    def get_usage_budget(self, customer_id: str) -> SpendingBudget:
        """The customer's usage spending budget (amount None: none set)."""
        ...

    def update_usage_budget(self, customer_id: str, amount: Decimal | None) -> SpendingBudget:
        """Set (None: remove) the customer's usage spending budget, in its billing currency."""
        ...
