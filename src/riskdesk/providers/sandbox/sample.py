"""A small deterministic sandbox state for tests and for a sandbox started without a book."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from riskdesk.providers.records import (
    Customer,
    FraudEventStatus,
    ResourceAttributes,
    ServiceRequest,
)
from riskdesk.providers.records_budget import SpendingBudget
from riskdesk.providers.sandbox.resources import (
    AZURE_PLAN_OFFER,
    make_customer,
    make_fraud_event,
    make_subscription,
)
from riskdesk.providers.sandbox.state import SandboxState, UsageRow

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


def sample_state(seed: int = 0, *, path: Path | None = None) -> SandboxState:
    """A small deterministic state: 7 customers, ~20 subscriptions (one deleted, one
    suspended), ~500 usage lines over May (billed) and June (unbilled) 2026 in several
    currencies, fraud events in each status, the default support topics, one closed service
    request (Contoso's own) and one usage spending budget (Contoso's, 500).

    With `path`, later changes are saved to that file (nothing is written until then).
    """
    rng = random.Random(seed)

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    state = SandboxState(path=path)
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
    events: tuple[tuple[FraudEventStatus, date], ...] = (
        ("Active", gpu_start),
        ("Active", date(2026, 6, 12)),
        ("Investigating", date(2026, 6, 1)),
        ("Resolved", date(2026, 5, 3)),
        ("Resolved", date(2026, 5, 20)),
    )
    for position, (status, start) in enumerate(events):
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
    contoso = state.customer_list()[0]
    state.service_request_customers[str(closed.id)] = contoso.id  # the customer's own request
    state.next_service_request += 1
    # Contoso has a usage spending budget of 500 (its billing currency, EUR); the others none.
    state.budgets[contoso.id] = SpendingBudget(
        amount=Decimal(500),
        usage_spending_budget=Decimal(500),
        attributes=ResourceAttributes(object_type="SpendingBudget"),
    )
    return state
