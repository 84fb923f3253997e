"""Seeding the provider sandbox from a riskdesk book (and a demo truth file).

The sandbox (`riskdesk.providers.sandbox`) knows nothing of books: the demo builds its state
here and hands it over (`serve(..., seed_state=...)`, `start_sandbox(state)`).

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
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from riskdesk.db.engine import make_engine
from riskdesk.db.models import Customer as BookCustomer
from riskdesk.db.models import Subscription as BookSubscription
from riskdesk.db.models import UsageRecord
from riskdesk.providers.sandbox.resources import (
    make_customer,
    make_fraud_event,
    make_subscription,
)
from riskdesk.providers.sandbox.state import SandboxState, UsageRow

FRAUD_BEHAVIOURS = ("gpu_burst", "signup_fraud")


def _text(value: Decimal | float) -> str:
    if isinstance(value, float):
        value = Decimal(repr(value))
    return str(value)


def seed_sandbox_state(
    engine: Engine, *, truth_path: Path | None = None, path: Path | None = None
) -> SandboxState:
    """Customers, subscriptions and usage of the book; fraud events from the truth file.

    With `path`, the state's later changes are saved there (call `save()` to write it now).
    """
    state = SandboxState(path=path)
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
    meters: dict[tuple[str, str | None], str | None] = {}
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


def seed_sandbox_from_database(
    database_url: str, *, truth_path: Path | None = None, path: Path | None = None
) -> SandboxState:
    """`seed_sandbox_state` for the book at `database_url` (its engine is disposed after)."""
    engine = make_engine(database_url)
    try:
        return seed_sandbox_state(engine, truth_path=truth_path, path=path)
    finally:
        engine.dispose()
