"""`pc-usage`: Partner Center daily rated usage reconciliation export (new commerce).

Columns read (matched case-insensitively, with aliases; every other column is ignored):
CustomerId, SubscriptionId (the Azure plan), EntitlementId (the Azure subscription),
UsageDate, MeterId, MeterCategory, MeterName, ResourceLocation (else MeterRegion), Quantity,
Unit, BillingPreTaxTotal, BillingCurrency, InvoiceNumber (blank while unbilled), and for the
row identity ResourceURI, ChargeType and UnitType.

Row identity (`row_hash`): CustomerId, SubscriptionId, EntitlementId, UsageDate (as ISO),
MeterId, ResourceURI, region, ChargeType, UnitType; ids and the URI compared in lower case.
Amounts and InvoiceNumber are not part of it, so a day re-rated or billed later is the same
row (the first import wins).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from riskdesk.db.models import Customer, Subscription, UsageRecord
from riskdesk.imports import vec
from riskdesk.imports.bulkfile import Checked, Problems, max_length, value
from riskdesk.imports.headers import Field

FIELDS = [
    Field("CustomerId", ("CustomerTenantId",), required=True),
    Field("SubscriptionId", required=True),
    Field("EntitlementId", ("AzureSubscriptionId",)),
    Field("UsageDate", required=True),
    Field("MeterId", required=True),
    Field("MeterCategory"),
    Field("MeterName"),
    Field("ResourceLocation"),
    Field("MeterRegion"),
    Field("Quantity", required=True),
    Field("Unit"),
    Field("BillingPreTaxTotal", required=True),
    Field("BillingCurrency", required=True),
    Field("InvoiceNumber", ("InvoiceId",)),
    Field("ResourceURI", ("ResourceId",)),
    Field("ChargeType"),
    Field("UnitType"),
]
REQUIRED_VALUES = [
    "CustomerId",
    "SubscriptionId",
    "UsageDate",
    "MeterId",
    "Quantity",
    "BillingPreTaxTotal",
    "BillingCurrency",
]
LENGTHS = {
    "SubscriptionId": 64,
    "EntitlementId": 64,
    "MeterId": 64,
    "MeterCategory": 100,
    "MeterName": 200,
    "Unit": 64,
    "InvoiceNumber": 64,
}


def lookup_table(connection: Connection, key, id_column) -> tuple[pa.Array, np.ndarray]:
    pairs = connection.execute(select(key, id_column)).all()
    keys = pa.array([str(k).lower() for k, _ in pairs], pa.string())
    ids = np.array([i for _, i in pairs], dtype=np.int64)
    return keys, ids


class UsageSpec:
    kind = "pc-usage"
    fields = FIELDS
    table = UsageRecord.__table__
    columns = [
        "customer_id",
        "subscription_id",
        "provider_subscription_id",
        "entitlement_id",
        "usage_date",
        "meter_id",
        "meter_category",
        "meter_name",
        "region",
        "quantity",
        "unit",
        "currency",
        "amount_micros",
        "invoice_number",
        "row_hash",
    ]

    def prepare(self, connection: Connection) -> None:
        self.customers = lookup_table(connection, Customer.provider_customer_id, Customer.id)
        self.subscriptions = lookup_table(
            connection, Subscription.provider_subscription_id, Subscription.id
        )

    def check(self, cols, problems: Problems, label) -> Checked:
        n = problems.n
        blank_col = pa.array([""] * n, pa.string())

        def col(name: str) -> pa.Array:
            return cols.get(name, blank_col)

        empties = {}
        for name in REQUIRED_VALUES:
            empties[name] = vec.empty(col(name))
            problems.add(empties[name], label(name), lambda i: "required value is empty")

        customer = col("CustomerId")
        customer_ids, found = vec.lookup(customer, *self.customers, lower=True)
        problems.add(
            ~found & ~empties["CustomerId"],
            label("CustomerId"),
            lambda i: f"unknown customer {value(customer, i)!r} (not in the book's customers)",
        )

        usage_date = col("UsageDate")
        days, bad_date = vec.parse_dates(usage_date)
        problems.add(
            bad_date & ~empties["UsageDate"],
            label("UsageDate"),
            lambda i: f"not a date: {value(usage_date, i)!r} (expected M/D/YYYY)",
        )

        quantity_text = col("Quantity")
        quantity, bad_q = vec.parse_quantity(quantity_text)
        problems.add(
            bad_q & ~empties["Quantity"],
            label("Quantity"),
            lambda i: f"not a number: {value(quantity_text, i)!r}",
        )
        problems.add(
            quantity < 0,
            label("Quantity"),
            lambda i: f"negative quantity {value(quantity_text, i)}",
        )

        amount_text = col("BillingPreTaxTotal")
        micros, bad_amount = vec.parse_micros(amount_text)
        problems.add(
            bad_amount & ~empties["BillingPreTaxTotal"],
            label("BillingPreTaxTotal"),
            lambda i: f"not a finite amount: {value(amount_text, i)!r}",
        )

        currency = col("BillingCurrency")
        problems.add(
            ~vec.known_currency(currency) & ~empties["BillingCurrency"],
            label("BillingCurrency"),
            lambda i: f"unknown currency {value(currency, i)!r} (expected an ISO 4217 code)",
        )

        region = col("ResourceLocation") if "ResourceLocation" in cols else col("MeterRegion")
        region_label = label("ResourceLocation" if "ResourceLocation" in cols else "MeterRegion")
        max_length(problems, region, region_label, 64)
        for name, limit in LENGTHS.items():
            if name in cols:
                max_length(problems, cols[name], label(name), limit)

        subscription = col("SubscriptionId")
        subscription_ids, _ = vec.lookup(subscription, *self.subscriptions, lower=True)
        iso = pa.array(np.datetime_as_string(days, unit="D"), pa.string())
        identity = [
            pc.utf8_lower(customer),
            pc.utf8_lower(subscription),
            pc.utf8_lower(col("EntitlementId")),
            iso,
            pc.utf8_lower(col("MeterId")),
            pc.utf8_lower(col("ResourceURI")),
            region,
            col("ChargeType"),
            col("UnitType"),
        ]

        def rows(idx: np.ndarray, hashes: np.ndarray) -> list[tuple]:
            take = pa.array(idx)
            sub = subscription_ids[idx].tolist()
            return list(
                zip(
                    customer_ids[idx].tolist(),
                    [s if s >= 0 else None for s in sub]
                    if (subscription_ids >= 0).any()
                    else [None] * len(idx),
                    vec.strings(subscription.take(take)),
                    vec.nullable_strings(col("EntitlementId").take(take)),
                    vec.strings(iso.take(take)),
                    vec.strings(col("MeterId").take(take)),
                    vec.nullable_strings(col("MeterCategory").take(take)),
                    vec.nullable_strings(col("MeterName").take(take)),
                    vec.nullable_strings(region.take(take)),
                    quantity[idx].tolist(),
                    vec.nullable_strings(col("Unit").take(take)),
                    vec.strings(currency.take(take)),
                    micros[idx].tolist(),
                    vec.nullable_strings(col("InvoiceNumber").take(take)),
                    hashes.tolist(),
                    strict=True,
                )
            )

        return Checked(identity=identity, rows=rows)
