"""Filling a `SandboxState`: from a riskdesk book (and a demo truth file), or a small sample.

Mapping from the book (docs/demo.md):

* customer: tenant id `customers.provider_customer_id`, company profile (name, domain),
  billing profile (email, default address country);
* subscription: id `subscriptions.provider_subscription_id`, offer, quantity, billing cycle,
  `billingType` `license` (seat) or `usage` (Azure plan), status `provider_status`;
* usage line: one per `usage_records` row; `subscriptionId` is the Azure plan,
  `entitlementId` the Azure subscription, `billingPreTaxTotal` the amount in currency units
  (exact decimal), `invoiceNumber` the row's invoice number (empty while unbilled);
* fraud events: one `Active` crypto-mining event per planted `gpu_burst` and `signup_fraud`
  record of the truth file, on the Azure subscription (entitlement) that ran the GPU meter.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from riskdesk.db.models import Customer as BookCustomer
from riskdesk.db.models import Subscription as BookSubscription
from riskdesk.db.models import UsageRecord
from riskdesk.providers.records import (
    Address,
    CompanyProfile,
    Customer,
    CustomerBillingProfile,
    FraudEvent,
    ResourceAttributes,
    ServiceRequest,
    Subscription,
)
from riskdesk.providers.sandbox.state import (
    PARTNER_ID,
    PARTNER_NAME,
    SandboxState,
    UsageRow,
    new_etag,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

AZURE_PLAN_OFFER = "DZH318Z0BPS6:0001"
FRAUD_BEHAVIOURS = ("gpu_burst", "signup_fraud")
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
    billing_cycle: str,
    status: str,
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
    status: str = "Active",
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
        subscription_type="Modern",
        entity_id=entity,
        entity_name=vm,
        entity_url=f"https://portal.azure.com/#resource{entity}",
        hit_count=days,
        catalog_offer_id=plan_offer_id,
        event_status=status,
        event_type="CryptoMining",
        service_name="Microsoft.Compute",
        resource_name=vm,
        resource_group_name=group,
        first_occurrence=_midnight(start),
        last_occurrence=_midnight(last_day),
        first_observed=_midnight(start) + timedelta(hours=6),
        last_observed=_midnight(last_day) + timedelta(hours=6),
        severity="High",
        confidence_level="High",
        display_name="Crypto mining activity detected",
        description=(
            f"Crypto currency mining suspected: {detail}virtual machines running "
            f"{hours_per_day or 'many'} hours a day" + (f" in {region}" if region else "")
        ),
        **fields,
    )


# ---------------------------------------------------------------------- from a book


def _text(value: Decimal | float) -> str:
    if isinstance(value, float):
        value = Decimal(repr(value))
    return str(value)


def state_from_book(engine: Engine, *, truth_path: Path | None = None) -> SandboxState:
    """Customers, subscriptions and usage of the book; fraud events from the truth file."""
    state = SandboxState()
    with engine.connect() as connection:
        customer_ids: dict[int, str] = {}
        for row in connection.execute(select(BookCustomer.__table__).order_by(BookCustomer.id)):
            customer_ids[row.id] = row.provider_customer_id
            state.add_customer(
                make_customer(
                    row.provider_customer_id,
                    row.name,
                    domain=row.domain,
                    country=row.country,
                    email=row.billing_email,
                )
            )
        table = BookSubscription.__table__
        for row in connection.execute(select(table).order_by(table.c.id)):
            state.add_subscription(
                customer_ids[row.customer_id],
                make_subscription(
                    row.provider_subscription_id,
                    row.offer_id,
                    row.offer_name,
                    kind=row.kind,
                    quantity=row.quantity,
                    billing_cycle=row.billing_cycle,
                    status=row.provider_status,
                    created_on=row.created_on,
                ),
            )
        usage = UsageRecord.__table__
        query = select(
            usage.c.customer_id,
            usage.c.provider_subscription_id,
            usage.c.entitlement_id,
            usage.c.usage_date,
            usage.c.meter_id,
            usage.c.meter_category,
            usage.c.meter_name,
            usage.c.region,
            usage.c.quantity,
            usage.c.unit,
            usage.c.currency,
            usage.c.amount_micros,
            usage.c.invoice_number,
        ).order_by(usage.c.id)
        intern = sys.intern
        rows: list[UsageRow] = []
        days: dict[date, str] = {}

        def name(value: str | None) -> str | None:
            return None if value is None else intern(value)

        result = connection.execution_options(yield_per=20_000).execute(query)
        for r in result:
            day = days.get(r.usage_date)
            if day is None:
                day = days[r.usage_date] = intern(r.usage_date.isoformat())
            rows.append(
                UsageRow(
                    customer_id=customer_ids[r.customer_id],
                    subscription_id=intern(r.provider_subscription_id),
                    entitlement_id=name(r.entitlement_id),
                    usage_date=day,
                    meter_id=intern(r.meter_id),
                    meter_category=name(r.meter_category),
                    meter_name=name(r.meter_name),
                    region=name(r.region),
                    quantity=_text(r.quantity),
                    unit=name(r.unit),
                    currency=intern(r.currency),
                    amount=_text(r.amount_micros),
                    invoice_number=name(r.invoice_number),
                )
            )
        state.add_usage(rows)
    if truth_path is not None:
        add_truth_fraud_events(state, json.loads(Path(truth_path).read_text()))
    state.add_default_support_topics()
    return state


def add_truth_fraud_events(state: SandboxState, truth: dict[str, Any]) -> int:
    """One Active crypto-mining event per planted GPU burst / sign-up fraud; returns the count."""
    as_of = date.fromisoformat(truth["as_of"])
    wanted = [r for r in truth.get("records", []) if r.get("behaviour") in FRAUD_BEHAVIOURS]
    # Which Azure subscription (entitlement) of the plan ran the GPU meter.
    meters: dict[tuple[str, str], str | None] = {}
    for record in wanted:
        details = record.get("details") or {}
        meter = details.get("meter_id") or details.get("gpu_meter_id")
        meters[(record["subscription"], meter)] = None
    for row in state.usage:
        key = (row.subscription_id, row.meter_id)
        if key in meters and meters[key] is None:
            meters[key] = row.entitlement_id
    count = 0
    for record in wanted:
        details = record.get("details") or {}
        meter = details.get("meter_id") or details.get("gpu_meter_id")
        customer = state.customers.get(record["customer"])
        if customer is None:
            continue
        azure_subscription = meters.get((record["subscription"], meter)) or record["subscription"]
        start = date.fromisoformat(details.get("gpu_usage_from") or record["start"])
        last = details.get("last_day")
        last_day = date.fromisoformat(last) if last else as_of - timedelta(days=1)
        state.add_fraud_event(
            make_fraud_event(
                customer=customer,
                azure_subscription_id=azure_subscription,
                start=start,
                last_day=max(start, min(last_day, as_of - timedelta(days=1))),
                region=details.get("region"),
                meter_name=details.get("meter_name") or details.get("gpu_meter_name"),
                hours_per_day=details.get("hours_per_day") or details.get("gpu_hours_per_day"),
                key=record["behaviour"],
            )
        )
        count += 1
    return count


# ---------------------------------------------------------------------- a small sample

SAMPLE_AS_OF = date(2026, 6, 15)
_SAMPLE_CUSTOMERS = (
    ("Contoso GmbH", "DE", "EUR"),
    ("Fabrikam Ltd", "GB", "GBP"),
    ("Northwind Traders Inc.", "US", "USD"),
    ("Tailspin Toys SAS", "FR", "EUR"),
    ("Adatum Corporation", "US", "USD"),
    ("Woodgrove Bank NV", "NL", "EUR"),
    ("Litware KK", "JP", "JPY"),
)
_SAMPLE_SEATS = (
    ("CFQ7TTC0LCHC:0002", "Microsoft 365 Business Premium", 22.0),
    ("CFQ7TTC0LFLX:0001", "Microsoft 365 E3", 36.0),
    ("CFQ7TTC0LH18:0001", "Microsoft Teams Essentials", 4.0),
)
_SAMPLE_METERS = (
    ("9a1e4b3c-0d2f-4e6a-8b7c-1d2e3f4a5b60", "Virtual Machines", "D2s v5", "1 Hour", 0.096),
    ("4b2c1d0e-9f8a-4b7c-a6d5-e4f3a2b1c0d9", "Storage", "LRS Data Stored", "1 GB/Month", 0.02),
)
_SAMPLE_GPU = ("c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e99", "Virtual Machines", "NC24ads A100 v4")


def sample_state(seed: int = 0) -> SandboxState:
    """A small deterministic state: 7 customers, ~20 subscriptions (one deleted, one
    suspended), ~500 usage lines over May (billed) and June (unbilled) 2026 in several
    currencies, fraud events in each status, the default support topics and one closed
    service request.
    """
    rng = random.Random(seed)

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    state = SandboxState()
    plans: list[tuple[Customer, str, str, str]] = []  # customer, plan, entitlement, currency
    for index, (name, country, currency) in enumerate(_SAMPLE_CUSTOMERS):
        tenant = guid()
        slug = name.split()[0].lower()
        customer = make_customer(
            tenant, name, domain=f"{slug}.onmicrosoft.com", country=country,
            email=f"billing@{slug}.example",
        )  # fmt: skip
        state.add_customer(customer)
        for offer_id, offer_name, _price in rng.sample(_SAMPLE_SEATS, k=rng.randint(1, 3)):
            state.add_subscription(
                tenant,
                make_subscription(
                    guid(), offer_id, offer_name, kind="seat",
                    quantity=rng.randint(1, 50), billing_cycle=rng.choice(("monthly", "annual")),
                    status="active", created_on=date(2024, 1 + index, 10),
                ),
            )  # fmt: skip
        if index != 1:
            plan = guid()
            state.add_subscription(
                tenant,
                make_subscription(
                    plan, AZURE_PLAN_OFFER, "Azure plan", kind="consumption", quantity=1,
                    billing_cycle="none", status="suspended" if index == 4 else "active",
                    created_on=date(2024, 1 + index, 10),
                ),
            )  # fmt: skip
            plans.append((customer, plan, guid(), currency))
    # One deleted subscription (Fabrikam, which has no Azure plan).
    fabrikam = state.customer_list()[1]
    state.add_subscription(
        fabrikam.id,
        make_subscription(
            guid(), "CFQ7TTC0LFLZ:0001", "Microsoft 365 E5", kind="seat", quantity=3,
            billing_cycle="monthly", status="deleted", created_on=date(2023, 5, 1),
        ),
    )  # fmt: skip
    invoices = {"EUR": "G000000101", "USD": "G000000102", "GBP": "G000000103", "JPY": "G000000104"}
    rows: list[UsageRow] = []
    day = date(2026, 5, 1)
    while day < SAMPLE_AS_OF:
        billed = day.month == 5
        for customer, plan, entitlement, currency in plans:
            for meter_id, category, meter, unit, price in _SAMPLE_METERS:
                quantity = Decimal(str(round(rng.uniform(5, 60), 4)))
                amount = (quantity * Decimal(str(price))).quantize(Decimal("0.000001"))
                if currency == "JPY":
                    amount = (amount * 150).quantize(Decimal("0.01"))
                rows.append(
                    UsageRow(
                        customer.id, plan, entitlement, day.isoformat(), meter_id, category,
                        meter, "westeurope", str(quantity), unit, currency, str(amount),
                        invoices[currency] if billed else None,
                    )
                )  # fmt: skip
        day += timedelta(days=1)
    # A GPU burst on the second plan (Northwind) from 5 June.
    customer, plan, entitlement, currency = plans[1]
    gpu_start = date(2026, 6, 5)
    day = gpu_start
    while day < SAMPLE_AS_OF:
        rows.append(
            UsageRow(
                customer.id, plan, entitlement, day.isoformat(), _SAMPLE_GPU[0], _SAMPLE_GPU[1],
                _SAMPLE_GPU[2], "brazilsouth", "480", "1 Hour", currency, "1762.56", None,
            )
        )  # fmt: skip
        day += timedelta(days=1)
    state.add_usage(rows)
    last = SAMPLE_AS_OF - timedelta(days=1)
    for position, (status, start) in enumerate(
        (
            ("Active", gpu_start),
            ("Active", date(2026, 6, 12)),
            ("Investigating", date(2026, 6, 1)),
            ("Resolved", date(2026, 5, 3)),
            ("Resolved", date(2026, 5, 20)),
        )
    ):
        customer, plan, entitlement, _currency = plans[[1, 2, 3, 0, 4][position]]
        state.add_fraud_event(
            make_fraud_event(
                customer=customer, azure_subscription_id=entitlement, start=start,
                last_day=last if status != "Resolved" else start + timedelta(days=2),
                status=status, region="brazilsouth", meter_name=_SAMPLE_GPU[2],
                hours_per_day=480, key=str(position),
            )
        )  # fmt: skip
    state.add_default_support_topics()
    closed = ServiceRequest(
        id=str(state.next_service_request),
        title="Invoice G000000101 question",
        description="Question about May usage charges",
        severity="minimal",
        status="closed",
        support_topic_id="32444671",
        support_topic_name="Billing",
        created_date=datetime(2026, 6, 2, 9, 30, tzinfo=UTC),
        last_modified_date=datetime(2026, 6, 3, 16, 0, tzinfo=UTC),
        last_closed_date=datetime(2026, 6, 3, 16, 0, tzinfo=UTC),
        attributes=ResourceAttributes(object_type="ServiceRequest"),
    )
    state.service_requests[str(closed.id)] = closed
    state.next_service_request += 1
    return state
