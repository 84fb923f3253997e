"""The sync's fetch phase: everything read from the provider before anything is written.

The client retries throttling and 5xx and validates every response; a `ProviderError` here
stops the sync before the book is touched. Usage line items are streamed to a CSV in the
Partner Center export's column names, for the `pc-usage` importer.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from pathlib import Path

from riskdesk.money import beyond_limit
from riskdesk.providers.base import Provider
from riskdesk.providers.errors import ProviderResponseError
from riskdesk.providers.records import Customer as WireCustomer
from riskdesk.providers.records import DailyRatedUsageLineItem, FraudEvent, InvoiceSummary
from riskdesk.providers.records import Subscription as WireSubscription

USAGE_COLUMNS = [
    "CustomerId", "SubscriptionId", "EntitlementId", "UsageDate", "MeterId", "MeterCategory",
    "MeterName", "ResourceLocation", "MeterRegion", "Quantity", "Unit", "BillingPreTaxTotal",
    "BillingCurrency", "InvoiceNumber", "ResourceURI", "ChargeType", "UnitType",
]  # fmt: skip

Progress = Callable[[str, int, int], None]


class Stages:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


@dataclass
class Listings:
    """What the provider lists: customers, their subscriptions, fraud events, invoices."""

    customers: list[WireCustomer]
    subscriptions: dict[str, list[WireSubscription]]
    fraud_events: list[FraudEvent]
    invoices: list[InvoiceSummary]


def fetch_listings(provider: Provider, stage: Stages) -> Listings:
    """Every customer and its subscriptions, every fraud event and invoice."""
    stage("customers", 0, 0)
    customers = list(provider.list_customers())
    subscriptions: dict[str, list[WireSubscription]] = {}
    for done, customer in enumerate(customers, start=1):
        subscriptions[customer.id] = list(provider.list_subscriptions(customer.id))
        stage("subscriptions", done, len(customers))
    stage("fraud events", 0, 0)
    fraud_events = list(provider.list_fraud_events())
    stage("invoices", 0, 0)
    invoices = list(provider.list_invoices())
    return Listings(customers, subscriptions, fraud_events, invoices)


def write_usage_csv(
    provider: Provider,
    usage_file: Path,
    sources: Sequence[tuple[str, str | None]],
    stage: Stages,
) -> int:
    """The usage of every (currency, invoice id or None for unbilled) into `usage_file`.

    Returns the number of line items read.
    """
    read = 0
    with open(usage_file, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(USAGE_COLUMNS)
        for done, (currency, invoice_id) in enumerate(sources, start=1):
            for item in provider.list_usage(currency, invoice_id=invoice_id):
                _check_amount(item, invoice_id)
                writer.writerow(_usage_row(item))
                read += 1
            stage("usage", done, len(sources))
    return read


def _check_amount(item: DailyRatedUsageLineItem, invoice_id: str | None) -> None:
    """Refuse (before the book is touched) a usage amount larger than riskdesk stores."""
    if item.billing_pre_tax_total is None:
        return
    problem = beyond_limit(item.billing_pre_tax_total, item.billing_currency)
    if problem is not None:
        where = f"invoice {invoice_id}" if invoice_id else "unbilled usage"
        raise ProviderResponseError(
            f"usage of customer {item.customer_id}, subscription {item.subscription_id} on "
            f"{item.usage_date.date().isoformat()} ({where}): {problem}",
            call=f"list_usage({item.billing_currency})",
        )


def _text(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _usage_row(item: DailyRatedUsageLineItem) -> list[str]:
    usage_day = item.usage_date.astimezone(UTC) if item.usage_date.tzinfo else item.usage_date
    return [
        item.customer_id,
        item.subscription_id,
        item.entitlement_id or "",
        f"{usage_day.month}/{usage_day.day}/{usage_day.year}",
        item.meter_id or "",
        item.meter_category or "",
        item.meter_name or "",
        item.resource_location or "",
        item.meter_region or "",
        _text(item.quantity),
        item.unit_of_measure or "",
        _text(item.billing_pre_tax_total),
        item.billing_currency,
        item.invoice_number or "",
        item.resource_uri or "",
        getattr(item, "charge_type", None) or "",
        item.unit_type or "",
    ]
