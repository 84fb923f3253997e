"""Partner Center resources as the sandbox serves them: customers, subscriptions, fraud events.

The builders a state is filled with (`sample.sample_state` here, the demo's
`riskdesk.demo.sandbox_seed` from a book); they know the wire shapes, not where data comes from.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from riskdesk.providers.records import (
    Address,
    BillingCycle,
    CompanyProfile,
    Customer,
    CustomerBillingProfile,
    FraudEvent,
    FraudEventStatus,
    ResourceAttributes,
    Subscription,
    SubscriptionStatus,
)
from riskdesk.providers.sandbox.state import PARTNER_ID, PARTNER_NAME, new_etag

AZURE_PLAN_OFFER = "DZH318Z0BPS6:0001"
_NAMESPACE = uuid.UUID("9f0b6c8e-54c1-4c1e-9a57-3f1d2e7a6b10")
_CULTURES = {"US": "en-US", "GB": "en-GB", "DE": "de-DE", "FR": "fr-FR", "JP": "ja-JP",
             "CN": "zh-CN", "NL": "nl-NL", "ES": "es-ES", "SE": "sv-SE"}  # fmt: skip


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def make_customer(
    tenant_id: str,
    name: str,
    *,
    domain: str | None = None,
    country: str | None = None,
    email: str | None = None,
) -> Customer:
    """A Partner Center customer resource as `GET /v1/customers/{id}` returns it."""
    domain = domain or f"{tenant_id[:8]}.onmicrosoft.com"
    culture = _CULTURES.get(country or "", "en-US")
    return Customer(
        id=tenant_id,
        company_profile=CompanyProfile(
            tenant_id=tenant_id,
            domain=domain,
            company_name=name,
            email=email,
            attributes=ResourceAttributes(object_type="CustomerCompanyProfile"),
        ),
        billing_profile=CustomerBillingProfile(
            id=tenant_id,
            email=email,
            culture=culture,
            language=culture.split("-")[0],
            company_name=name,
            default_address=Address(country=country),
            attributes=ResourceAttributes(etag=new_etag(), object_type="CustomerBillingProfile"),
        ),
        relationship_to_partner="reseller",
        allow_delegated_access=True,
        attributes=ResourceAttributes(object_type="Customer"),
    )


def make_subscription(
    subscription_id: str,
    offer_id: str,
    offer_name: str,
    *,
    kind: str,
    quantity: int,
    billing_cycle: BillingCycle,
    status: SubscriptionStatus,
    created_on: date,
) -> Subscription:
    """A Partner Center subscription resource (seat licence or Azure plan)."""
    seat = kind == "seat"
    term = {"monthly": "P1M", "annual": "P1Y"}.get(billing_cycle) if seat else None
    fields: dict[str, Any] = {}
    if term:
        fields["term_duration"] = term
        fields["auto_renew_enabled"] = True
    return Subscription(
        id=subscription_id,
        offer_id=offer_id,
        offer_name=offer_name,
        friendly_name=offer_name,
        quantity=quantity,
        unit_type="Licenses" if seat else "none",
        creation_date=_midnight(created_on),
        effective_start_date=_midnight(created_on),
        status=status,
        is_trial=False,
        billing_cycle=billing_cycle if seat else "none",
        billing_type="license" if seat else "usage",
        contract_type="subscription",
        attributes=ResourceAttributes(etag=new_etag(), object_type="Subscription"),
        **fields,
    )


def make_fraud_event(
    *,
    customer: Customer,
    azure_subscription_id: str,
    plan_offer_id: str = AZURE_PLAN_OFFER,
    start: date,
    last_day: date,
    status: FraudEventStatus = "Active",
    region: str | None = None,
    meter_name: str | None = None,
    hours_per_day: float | None = None,
    key: str = "",
) -> FraudEvent:
    """An Azure fraud notification (crypto mining) about one Azure subscription."""
    guid = uuid.uuid5(_NAMESPACE, f"{azure_subscription_id}/{start}/{key}")
    vm = f"vm-{guid.hex[:6]}"
    group = f"rg-{guid.hex[6:12]}"
    entity = (
        f"/subscriptions/{azure_subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/virtualMachines/{vm}"
    )
    days = max(1, (last_day - start).days + 1)
    detail = f"{meter_name} " if meter_name else ""
    fields: dict[str, Any] = {}
    if status == "Resolved":
        fields.update(
            resolved_reason="Fraud",
            resolved_on=_midnight(last_day) + timedelta(hours=20),
            resolved_by="sandbox@partner.example",
        )
    return FraudEvent(
        event_id=f"{azure_subscription_id}_{guid}",
        event_time=_midnight(start) + timedelta(hours=18),
        partner_tenant_id=PARTNER_ID,
        partner_friendly_name=PARTNER_NAME,
        customer_tenant_id=customer.id,
        customer_friendly_name=customer.company_profile.company_name,
        subscription_id=azure_subscription_id,
        subscription_name="Azure subscription 1",
        subscription_type="modern",  # as documented
        entity_id=entity,
        entity_name=vm,
        entity_url=f"https://portal.azure.com/#resource{entity}",
        hit_count=str(days),  # a string, as documented
        catalog_offer_id=plan_offer_id,
        event_status=status,
        event_type="NetworkConnectionsToCryptoMiningPools",
        service_name="Microsoft.Compute",
        resource_name=vm,
        resource_group_name=group,
        first_occurrence=_midnight(start),
        last_occurrence=_midnight(last_day),
        first_observed=_midnight(start) + timedelta(hours=6),
        last_observed=_midnight(last_day) + timedelta(hours=6),
        severity="High",
        confidence_level="High",
        is_test="false",
        display_name="Crypto mining activity detected",
        description=(
            f"Crypto currency mining suspected: {detail}virtual machines running "
            f"{hours_per_day or 'many'} hours a day" + (f" in {region}" if region else "")
        ),
        **fields,
    )
