"""`pc-usage`: Partner Center daily rated usage reconciliation export (new commerce).

Columns read (matched case-insensitively, with aliases; every other column is ignored):
CustomerId, SubscriptionId (the Azure plan), EntitlementId (the Azure subscription),
UsageDate, MeterId, MeterCategory, MeterName, ResourceLocation (else MeterRegion), Quantity,
Unit, BillingPreTaxTotal, BillingCurrency, InvoiceNumber (blank while unbilled), and for the
row identity ResourceURI, ChargeType and UnitType.

The row's own conversion, kept with it when given: PricingCurrency, PCToBCExchangeRate (1
pricing currency unit = rate billing currency units, an exact positive decimal) and
PCToBCExchangeRateDate. A rate needs its PricingCurrency. The facts convert usage billed in
another currency than the customer's with it (see `riskdesk.book.facts`).

Row identity (`row_hash`): CustomerId, SubscriptionId, EntitlementId, UsageDate (as ISO),
MeterId, ResourceURI, region, ChargeType, UnitType; text compared in its canonical form
(`rowhash.canonical_text`: trimmed, lower case), so the export's `New` is the API's `new`.
Amounts and InvoiceNumber are not part of it, so a day re-rated or billed later is the same
row (the first import wins). The hash is defined in `riskdesk.imports.rowhash`.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Table, select

from riskdesk.db.models import Customer, Subscription, UsageRecord
from riskdesk.db.models.rates import canonical_rate
from riskdesk.imports import vec
from riskdesk.imports.bulkfile import Checked, Problems, value
from riskdesk.imports.headers import Field
from riskdesk.imports.rowhash import canonical_texts, encode, value_hashes

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
    Field("PricingCurrency"),
    Field("PCToBCExchangeRate"),
    Field("PCToBCExchangeRateDate"),
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
    table = cast(Table, UsageRecord.__table__)
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
        "pricing_currency",
        "pc_to_bc_rate",
        "pc_to_bc_rate_date",
    ]

    def prepare(self, connection: Connection) -> None:
        self.customers = lookup_table(connection, Customer.provider_customer_id, Customer.id)
        self.subscriptions = lookup_table(
            connection, Subscription.provider_subscription_id, Subscription.id
        )

    def check(self, cols, problems: Problems, label) -> Checked:
        """Validate a batch. Repetitive columns (ids, dates, meters, regions, currency) are
        dictionary-encoded and checked, hashed and turned into Python values once per distinct
        value; only Quantity and BillingPreTaxTotal are parsed row by row (column-wise)."""
        n = problems.n
        encoded: dict[str, tuple[np.ndarray, pa.Array]] = {}

        def col(name: str) -> pa.Array:
            return cols[name] if name in cols else pa.nulls(n, pa.string()).fill_null("")

        def enc(name: str) -> tuple[np.ndarray, pa.Array]:
            if name not in encoded:
                encoded[name] = encode(col(name))
            return encoded[name]

        region_name = "ResourceLocation" if "ResourceLocation" in cols else "MeterRegion"
        encoded["region"] = enc(region_name)

        def empty(name: str) -> np.ndarray:
            if name in ("Quantity", "BillingPreTaxTotal"):
                return vec.empty(col(name))
            codes, uniques = enc(name)
            return vec.empty(uniques)[codes]

        empties = {}
        for name in REQUIRED_VALUES:
            empties[name] = empty(name)
            problems.add(empties[name], label(name), lambda i: "required value is empty")

        customer = col("CustomerId")
        codes, uniques = enc("CustomerId")
        ids_u, found_u = vec.lookup(uniques, *self.customers, lower=True)
        customer_ids, found = ids_u[codes], found_u[codes]
        problems.add(
            ~found & ~empties["CustomerId"],
            label("CustomerId"),
            lambda i: f"unknown customer {value(customer, i)!r} (not in the book's customers)",
        )

        usage_date = col("UsageDate")
        date_codes, date_uniques = enc("UsageDate")
        days_u, bad_date_u = vec.parse_dates(date_uniques)
        problems.add(
            bad_date_u[date_codes] & ~empties["UsageDate"],
            label("UsageDate"),
            lambda i: (
                f"not a date: {value(usage_date, i)!r} "
                "(expected M/D/YYYY[ H:MM:SS[ AM|PM]], 2000 to 2099)"
            ),
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
        large = vec.too_large(amount_text, bad_amount)
        is_large = np.zeros(len(bad_amount), dtype=bool)
        is_large[list(large)] = True
        problems.add(is_large, label("BillingPreTaxTotal"), large.__getitem__)
        problems.add(
            bad_amount & ~is_large & ~empties["BillingPreTaxTotal"],
            label("BillingPreTaxTotal"),
            lambda i: f"not a finite amount: {value(amount_text, i)!r}",
        )

        currency = col("BillingCurrency")
        codes, uniques = enc("BillingCurrency")
        problems.add(
            ~vec.known_currency(uniques)[codes] & ~empties["BillingCurrency"],
            label("BillingCurrency"),
            lambda i: f"unknown currency {value(currency, i)!r} (expected an ISO 4217 code)",
        )

        rates = _row_rates(col, enc, problems, label)

        for name, limit in (("region", 64), *LENGTHS.items()):
            if name == "region" or name in cols:
                codes, uniques = enc(name)
                too_long = vec.longer_than(uniques, limit)
                if too_long.any():

                    def too_long_message(i: int, limit: int = limit) -> str:
                        return f"value longer than {limit} characters"

                    problems.add(
                        too_long[codes],
                        label(region_name if name == "region" else name),
                        too_long_message,
                    )

        codes, uniques = enc("SubscriptionId")
        sub_u, _ = vec.lookup(uniques, *self.subscriptions, lower=True)
        subscription_ids = sub_u[codes]
        iso_u = pa.array(np.datetime_as_string(days_u, unit="D"), pa.string())

        def hashed(name: str) -> np.ndarray:
            codes, uniques = enc(name)
            return value_hashes(canonical_texts(uniques).to_pylist())[codes]

        identity = [
            hashed("CustomerId"),
            hashed("SubscriptionId"),
            hashed("EntitlementId"),
            value_hashes(iso_u.to_pylist())[date_codes],
            hashed("MeterId"),
            hashed("ResourceURI"),
            hashed("region"),
            hashed("ChargeType"),
            hashed("UnitType"),
        ]

        def strings(name: str, idx: np.ndarray, nullable: bool = True) -> list:
            codes, uniques = enc(name)
            return vec.decode(codes[idx], uniques, nullable=nullable)

        def columns(idx: np.ndarray, hashes: np.ndarray) -> list[list]:
            """Insert values column by column, in `self.columns` order (SQLite forms)."""
            sub = subscription_ids[idx]
            return [
                customer_ids[idx].tolist(),
                [s if s >= 0 else None for s in sub.tolist()]
                if (sub >= 0).any()
                else [None] * len(idx),
                strings("SubscriptionId", idx, nullable=False),
                strings("EntitlementId", idx),
                vec.decode(date_codes[idx], iso_u, nullable=False),
                strings("MeterId", idx, nullable=False),
                strings("MeterCategory", idx),
                strings("MeterName", idx),
                strings("region", idx),
                quantity[idx].tolist(),
                strings("Unit", idx),
                strings("BillingCurrency", idx, nullable=False),
                micros[idx].tolist(),
                strings("InvoiceNumber", idx),
                hashes.tolist(),
                *(values.take(pa.array(idx)).to_pylist() for values in rates),
            ]

        def rows(idx: np.ndarray, hashes: np.ndarray) -> list[tuple]:
            return list(zip(*columns(idx, hashes), strict=True))

        def table(idx: np.ndarray, hashes: np.ndarray) -> pa.Table:
            take = pa.array(idx)
            sub = subscription_ids[idx]

            def text(name: str, nullable: bool = True) -> pa.Array:
                codes, uniques = enc(name)
                if nullable:
                    uniques = pc.if_else(vec.empty(uniques), pa.scalar(None, pa.string()), uniques)
                return uniques.take(pa.array(codes[idx]))

            return pa.table(
                {
                    "customer_id": pa.array(customer_ids[idx]),
                    "subscription_id": pa.array(sub, mask=sub < 0),
                    "provider_subscription_id": text("SubscriptionId", nullable=False),
                    "entitlement_id": text("EntitlementId"),
                    "usage_date": iso_u.take(pa.array(date_codes[idx])),
                    "meter_id": text("MeterId", nullable=False),
                    "meter_category": text("MeterCategory"),
                    "meter_name": text("MeterName"),
                    "region": text("region"),
                    "quantity": pa.array(quantity).take(take),
                    "unit": text("Unit"),
                    "currency": text("BillingCurrency", nullable=False),
                    "amount_micros": pa.array(micros).take(take),
                    "invoice_number": text("InvoiceNumber"),
                    "row_hash": pa.array(hashes),
                    "pricing_currency": rates[0].take(take),
                    "pc_to_bc_rate": rates[1].take(take),
                    "pc_to_bc_rate_date": rates[2].take(take),
                }
            )

        return Checked(identity=identity, rows=rows, table=table, columns=columns)


def _row_rates(col, enc, problems: Problems, label) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The row's own conversion, checked: (PricingCurrency, canonical PCToBCExchangeRate,
    PCToBCExchangeRateDate as ISO) per row, None where blank. Checked once per distinct value
    (a file has a handful of rates)."""
    rate_text = col("PCToBCExchangeRate")
    codes, uniques = enc("PCToBCExchangeRate")
    canonical: list[str | None] = []
    bad_u = np.zeros(len(uniques), dtype=bool)
    for k, text in enumerate(uniques.to_pylist()):
        if text is None or not text.strip():
            canonical.append(None)
            continue
        try:
            canonical.append(canonical_rate(text))
        except ValueError:
            canonical.append(None)
            bad_u[k] = True
    rate_u = pa.array(canonical, pa.string())
    problems.add(
        bad_u[codes],
        label("PCToBCExchangeRate"),
        lambda i: f"not a positive exchange rate: {value(rate_text, i)!r}",
    )
    rate_given = pc.is_valid(rate_u).to_numpy(zero_copy_only=False)[codes] | bad_u[codes]

    pricing = col("PricingCurrency")
    p_codes, p_uniques = enc("PricingCurrency")
    p_empty_u = vec.empty(p_uniques)
    problems.add(
        (~vec.known_currency(p_uniques) & ~p_empty_u)[p_codes],
        label("PricingCurrency"),
        lambda i: f"unknown currency {value(pricing, i)!r} (expected an ISO 4217 code)",
    )
    problems.add(
        rate_given & p_empty_u[p_codes],
        label("PricingCurrency"),
        lambda i: "required value is empty: PCToBCExchangeRate converts from this currency",
    )
    pricing_u = pc.if_else(p_empty_u, pa.scalar(None, pa.string()), p_uniques)

    rate_date = col("PCToBCExchangeRateDate")
    d_codes, d_uniques = enc("PCToBCExchangeRateDate")
    d_empty_u = vec.empty(d_uniques)
    days_u, bad_u = vec.parse_dates(d_uniques)
    problems.add(
        (bad_u & ~d_empty_u)[d_codes],
        label("PCToBCExchangeRateDate"),
        lambda i: f"not a date: {value(rate_date, i)!r} (expected M/D/YYYY)",
    )
    iso = np.datetime_as_string(days_u, unit="D").astype(object)
    iso[bad_u | d_empty_u] = None
    date_u = pa.array(iso.tolist(), pa.string())

    def per_row(uniques: pa.Array, codes: np.ndarray) -> pa.Array:
        return uniques.take(pa.array(codes))

    return per_row(pricing_u, p_codes), per_row(rate_u, codes), per_row(date_u, d_codes)
