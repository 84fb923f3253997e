"""Pydantic models of the Partner Center wire JSON, for the subset riskdesk uses.

Both the client (`partner_center.py`) and the sandbox server (`sandbox/`) speak through these
models, so the sandbox cannot drift from what the client accepts.

Conventions (keys in any case, unknown fields kept, UTC times, numbers and enumerations in
any documented spelling) are `records_base`'s.

Sources (learn.microsoft.com/partner-center/developer/...):

- ``customer-resources``, ``get-a-list-of-customers``: Customer, CompanyProfile,
  CustomerBillingProfile, the collection envelope and its ``links.next`` continuation.
- ``subscription-resources``, ``get-all-of-a-customer-s-subscriptions``, ``suspend-a-subscription``,
  ``reactivate-a-suspended-a-subscription``: Subscription (status, billingCycle, billingType).
- ``get-invoice-unbilled-consumption-lineitems``, ``get-invoice-billed-consumption-lineitems``:
  DailyRatedUsageLineItem (fields as in the ``daily-rated-usage-recon-files`` columns), paging
  with ``MS-ContinuationToken`` and ``seekOperation=Next``.
- ``get-invoice-billed-recon-lineitems`` (new commerce): OneTimeInvoiceLineItem.
- ``get-fraud-events``, ``update-fraud-events-status``: FraudEvent, built from the field table
  (the response examples printed on those pages are not valid JSON). The documented response
  is a bare JSON array; the client also accepts a collection envelope.
- ``service-request-resources``, ``create-a-service-request``, ``get-service-request-by-id``,
  ``get-service-requests``, ``get-service-request-support-topics``: ServiceRequest, SupportTopic.
- ``error-codes``: the error body ``{code, description, data}`` (``code`` a number or a
  string); a 429 answers with ``{statusCode, message}`` instead (see FACTS.md).

The documented examples these models are checked against are transcribed, page by page, in
``tests/conformance/fixtures/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, Field

from riskdesk.providers.records_base import (
    FRAUD_NEW_MODEL_FIELDS as FRAUD_NEW_MODEL_FIELDS,
)
from riskdesk.providers.records_base import (
    BillingCycle,
    BillingType,
    ResourceAttributes,
    SubscriptionStatus,
    UtcDatetime,
    WireDecimal,
    WireFraudEventStatus,
    WireModel,
    WireServiceRequestSeverity,
    WireServiceRequestStatus,
    ZonelessUtcDatetime,
)
from riskdesk.providers.records_base import FraudEventStatus as FraudEventStatus
from riskdesk.providers.records_base import ServiceRequestSeverity as ServiceRequestSeverity
from riskdesk.providers.records_base import ServiceRequestStatus as ServiceRequestStatus
from riskdesk.providers.wire_keys import enum_key as enum_key

# ---------------------------------------------------------------- collection envelope


class LinkHeader(WireModel):
    key: str
    value: str


class Link(WireModel):
    uri: str
    method: str = "GET"
    headers: list[LinkHeader] = Field(default_factory=list)


class Links(WireModel):
    self_: Link | None = Field(default=None, alias="self")
    next: Link | None = None
    previous: Link | None = None


T = TypeVar("T")


class Collection(WireModel, Generic[T]):
    """``{totalCount, items, links: {next: {uri, method, headers: [{key, value}]}}, attributes}``.

    There is a next page exactly when ``links.next`` is present; its headers (for example
    ``MS-ContinuationToken``) must be sent with the request for it.
    """

    total_count: int | None = None
    items: list[T]
    links: Links | None = None
    continuation_token: str | None = None
    attributes: ResourceAttributes | None = None

    @property
    def next_link(self) -> Link | None:
        return self.links.next if self.links else None


# ---------------------------------------------------------------- customers


class Address(WireModel):
    country: str | None = None
    region: str | None = None
    city: str | None = None
    state: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone_number: str | None = None


class CompanyProfile(WireModel):
    tenant_id: str
    domain: str | None = None
    company_name: str | None = None
    email: str | None = None
    address: Address | None = None
    attributes: ResourceAttributes | None = None


class CustomerBillingProfile(WireModel):
    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    culture: str | None = None
    language: str | None = None
    company_name: str | None = None
    default_address: Address | None = None
    attributes: ResourceAttributes | None = None


class Customer(WireModel):
    """A customer of the partner; ``id`` is the customer's tenant id."""

    id: str
    company_profile: CompanyProfile
    billing_profile: CustomerBillingProfile | None = None
    relationship_to_partner: str | None = None
    allow_delegated_access: bool | None = None
    attributes: ResourceAttributes | None = None


# ---------------------------------------------------------------- subscriptions


class Subscription(WireModel):
    id: str
    offer_id: str | None = None
    offer_name: str | None = None
    friendly_name: str | None = None
    entitlement_id: str | None = None
    quantity: int
    unit_type: str | None = None
    parent_subscription_id: str | None = None
    creation_date: UtcDatetime | None = None
    effective_start_date: UtcDatetime | None = None
    commitment_end_date: UtcDatetime | None = None
    term_duration: str | None = None
    auto_renew_enabled: bool | None = None
    status: SubscriptionStatus
    suspension_reasons: list[str] | None = None
    is_trial: bool | None = None
    billing_cycle: BillingCycle | None = None
    billing_type: BillingType | None = None
    order_id: str | None = None
    contract_type: str | None = None
    attributes: ResourceAttributes | None = None


# ---------------------------------------------------------------- usage and invoice lines


class DailyRatedUsageLineItem(WireModel):
    """One day of one meter for one Azure subscription (entitlement) under an Azure plan.

    ``subscription_id`` is the Azure plan; ``entitlement_id`` is the Azure subscription.
    ``invoice_number`` is empty on unbilled lines.
    """

    partner_id: str | None = None
    partner_name: str | None = None
    customer_id: str
    customer_name: str | None = None
    customer_domain_name: str | None = None
    customer_country: str | None = None
    mpn_id: str | None = None
    tier2_mpn_id: str | None = Field(
        default=None, validation_alias=AliasChoices("tier2MpnId", "tier2_mpn_id")
    )
    invoice_number: str | None = None
    product_id: str | None = None
    sku_id: str | None = None
    availability_id: str | None = None
    sku_name: str | None = None
    product_name: str | None = None
    publisher_name: str | None = None
    publisher_id: str | None = None
    subscription_id: str
    subscription_description: str | None = None
    charge_start_date: UtcDatetime | None = None
    charge_end_date: UtcDatetime | None = None
    usage_date: UtcDatetime
    meter_type: str | None = None
    meter_category: str | None = None
    meter_id: str | None = None
    meter_sub_category: str | None = None
    meter_name: str | None = None
    meter_region: str | None = None
    unit_of_measure: str | None = Field(
        default=None,
        validation_alias=AliasChoices("unitOfMeasure", "unit", "unit_of_measure"),
        serialization_alias="unitOfMeasure",
    )
    resource_location: str | None = None
    consumed_service: str | None = None
    resource_group: str | None = None
    resource_uri: str | None = None
    tags: Any = None
    additional_info: Any = None
    service_info1: str | None = Field(
        default=None, validation_alias=AliasChoices("serviceInfo1", "service_info1")
    )
    service_info2: str | None = Field(
        default=None, validation_alias=AliasChoices("serviceInfo2", "service_info2")
    )
    unit_type: str | None = None
    quantity: WireDecimal
    unit_price: WireDecimal | None = None
    effective_unit_price: WireDecimal | None = None
    billing_pre_tax_total: WireDecimal
    billing_currency: str
    pricing_pre_tax_total: WireDecimal | None = None
    pricing_currency: str | None = None
    entitlement_id: str | None = None
    entitlement_description: str | None = None
    partner_earned_credit_percentage: WireDecimal | None = Field(
        default=None,
        validation_alias=AliasChoices("pecPercentage", "partnerEarnedCreditPercentage"),
    )
    credit_percentage: WireDecimal | None = None
    credit_type: str | None = None
    charge_type: str | None = None
    benefit_order_id: str | None = None
    benefit_id: str | None = None
    benefit_type: str | None = None
    invoice_line_item_type: str | None = None
    billing_provider: str | None = None
    attributes: ResourceAttributes | None = None


class InvoiceDetail(WireModel):
    """One kind of line an invoice has (``invoiceDetails``), with the link to read them."""

    invoice_line_item_type: str | None = None
    billing_provider: str | None = None
    links: Links | None = None
    attributes: ResourceAttributes | None = None


class InvoiceSummary(WireModel):
    """A partner invoice (`GET /v1/invoices`, page `get-invoices`): billed usage is read per one."""

    id: str
    invoice_date: UtcDatetime | None = None
    invoice_type: str | None = None
    document_type: str | None = None
    currency_code: str | None = None
    total_charges: WireDecimal | None = None
    paid_amount: WireDecimal | None = None
    invoice_details: list[InvoiceDetail] = Field(default_factory=list)
    attributes: ResourceAttributes | None = None


class OneTimeInvoiceLineItem(WireModel):
    """A billed new-commerce invoice line (``provider=onetime``, ``billinglineitems``)."""

    partner_id: str | None = None
    customer_id: str
    customer_name: str | None = None
    customer_domain_name: str | None = None
    customer_country: str | None = None
    invoice_number: str | None = None
    mpn_id: str | None = None
    reseller_mpn_id: str | None = None
    order_id: str | None = None
    order_date: UtcDatetime | None = None
    product_id: str | None = None
    sku_id: str | None = None
    availability_id: str | None = None
    product_name: str | None = None
    sku_name: str | None = None
    charge_type: str | None = None
    unit_price: WireDecimal | None = None
    effective_unit_price: WireDecimal | None = None
    unit_type: str | None = None
    quantity: WireDecimal | None = None
    billable_quantity: WireDecimal | None = None
    subtotal: WireDecimal | None = None
    tax_total: WireDecimal | None = None
    total_for_customer: WireDecimal | None = None
    currency: str | None = None
    publisher_name: str | None = None
    publisher_id: str | None = None
    subscription_description: str | None = None
    subscription_id: str | None = None
    charge_start_date: UtcDatetime | None = None
    charge_end_date: UtcDatetime | None = None
    term_and_billing_cycle: str | None = None
    alternate_id: str | None = None
    price_adjustment_description: str | None = None
    pricing_currency: str | None = None
    pc_to_bc_exchange_rate: WireDecimal | None = Field(
        default=None, validation_alias=AliasChoices("pcToBCExchangeRate", "pc_to_bc_exchange_rate")
    )
    billing_frequency: str | None = None
    invoice_line_item_type: str | None = None
    billing_provider: str | None = None
    attributes: ResourceAttributes | None = None


# ---------------------------------------------------------------- fraud events


def _count_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class FraudEvent(WireModel):
    """An Azure fraud notification (``get-fraud-events``, ``update-fraud-events-status``).

    As documented: ``hitCount`` is a string (`hits` reads it as a number), times carry no
    zone (UTC), ``subscriptionType`` is ``modern``. The fields in `FRAUD_NEW_MODEL_FIELDS`
    come only with the ``X-NewEventsModel: true`` request header. ``subscription_id`` is the
    customer's Azure subscription. The older names (``azureSubscriptionId``,
    ``customerName``, ``eventName``, ``occurrenceCount``) are accepted too.
    """

    event_id: str
    event_time: ZonelessUtcDatetime | None = None
    partner_tenant_id: str | None = None
    partner_friendly_name: str | None = None
    customer_tenant_id: str | None = None
    customer_friendly_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "customerFriendlyName", "customerName", "customer_friendly_name"
        ),
        serialization_alias="customerFriendlyName",
    )
    subscription_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("subscriptionId", "azureSubscriptionId", "subscription_id"),
        serialization_alias="subscriptionId",
    )
    subscription_type: str | None = None
    entity_id: str | None = None
    entity_name: str | None = None
    entity_url: str | None = None
    hit_count: Annotated[str | None, BeforeValidator(_count_text)] = Field(
        default=None,
        validation_alias=AliasChoices("hitCount", "occurrenceCount", "hit_count"),
        serialization_alias="hitCount",
    )
    catalog_offer_id: str | None = None
    event_status: WireFraudEventStatus
    service_name: str | None = None
    resource_name: str | None = None
    resource_group_name: str | None = None
    first_occurrence: ZonelessUtcDatetime | None = None
    last_occurrence: ZonelessUtcDatetime | None = None
    first_observed: ZonelessUtcDatetime | None = None
    last_observed: ZonelessUtcDatetime | None = None
    resolved_reason: str | None = None
    resolved_on: ZonelessUtcDatetime | None = None
    resolved_by: str | None = None
    # the new event model (X-NewEventsModel: true)
    event_type: str | None = Field(
        default=None,
        validation_alias=AliasChoices("eventType", "eventName", "event_type"),
        serialization_alias="eventType",
    )
    severity: str | None = None
    confidence_level: str | None = None
    display_name: str | None = None
    description: str | None = None
    country: str | None = None
    value_added_reseller_tenant_id: str | None = None
    value_added_reseller_friendly_name: str | None = None
    subscription_name: str | None = None
    affected_resources: list[dict[str, Any]] | None = None
    additional_details: dict[str, Any] | None = None
    is_test: str | None = None
    activity_logs: Any = None

    @property
    def hits(self) -> int | None:
        """``hitCount`` as a number (None when absent or not a whole number)."""
        text = (self.hit_count or "").strip()
        return int(text) if text.isdigit() else None


class FraudEventStatusUpdate(WireModel):
    """Body of POST ``/v1/fraudEvents/subscription/{subscriptionId}/status``."""

    event_ids: list[str] = Field(default_factory=list)
    event_status: WireFraudEventStatus
    resolved_reason: Literal["Fraud", "Ignore"] | None = None


# ---------------------------------------------------------------- service requests


class SupportTopic(WireModel):
    id: str | int
    name: str | None = None
    description: str | None = None
    attributes: ResourceAttributes | None = None


class ServiceRequestContact(WireModel):
    contact_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone_number: str | None = None


class ServiceRequestNote(WireModel):
    created_by_name: str | None = None
    created_date: UtcDatetime | None = None
    text: str | None = None


class ServiceRequestOrganization(WireModel):
    id: str | None = None
    name: str | None = None
    phone_number: str | None = None


class ServiceRequest(WireModel):
    id: str | None = None
    title: str
    description: str | None = None
    severity: WireServiceRequestSeverity
    status: WireServiceRequestStatus | None = None
    organization: ServiceRequestOrganization | None = None
    support_topic_id: str | int | None = None
    support_topic_name: str | None = None
    primary_contact: ServiceRequestContact | None = None
    product_name: str | None = None
    product_id: str | None = None
    created_date: UtcDatetime | None = None
    last_modified_date: UtcDatetime | None = None
    last_closed_date: UtcDatetime | None = None
    notes: list[ServiceRequestNote] | None = None
    country_code: str | None = None
    attributes: ResourceAttributes | None = None


class NewServiceRequest(WireModel):
    """Body of POST ``/v1/servicerequests/{agentLocale}``."""

    title: str
    description: str
    severity: WireServiceRequestSeverity
    support_topic_id: str


# ---------------------------------------------------------------- error bodies


class ErrorBody(WireModel):
    """The usual Partner Center error body: ``{code, description, data}``."""

    code: int | str | None = None
    description: str | None = None
    data: Any = None
    source: str | None = None


class ThrottleBody(WireModel):
    """The body of a 429 Too Many Requests: ``{statusCode, message}``."""

    status_code: int | None = None
    message: str | None = None


def wire_alias(model: type[BaseModel], field: str) -> str:
    """The camelCase name of ``field`` on the wire (as written by `WireModel.to_wire`)."""
    info = model.model_fields[field]
    return info.serialization_alias or info.alias or field
