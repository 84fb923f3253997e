"""`pc-invoice`: Partner Center billed invoice reconciliation export (new commerce).

Rows become `ProviderInvoiceLine`: what the provider charges the reseller for a customer.
Columns read: InvoiceNumber, CustomerId, SubscriptionId, OrderId, ProductId, SkuId,
AvailabilityId, ProductName, SkuName, ChargeType, ChargeStartDate, ChargeEndDate, UnitPrice,
BillableQuantity (else Quantity), Subtotal, TaxTotal, Total, Currency, and for the identity
AlternateId and ReferenceId. Billed lines never change, so the identity is every column read,
each in its canonical form (`rowhash`: text trimmed and in lower case, dates as ISO, numbers
by value, so `32.40` is `32.4`).

Credits and cancellations may carry a negative quantity: a negative quantity is accepted when
ChargeType names a refund, credit or cancellation, and refused otherwise.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Table

from riskdesk.db.models import Customer, ProviderInvoiceLine
from riskdesk.imports import vec
from riskdesk.imports.bulkfile import Checked, Problems, max_length, value
from riskdesk.imports.headers import Field
from riskdesk.imports.pc_usage import lookup_table
from riskdesk.imports.rowhash import canonical_numbers, canonical_texts

FIELDS = [
    Field("InvoiceNumber", ("InvoiceId",), required=True),
    Field("CustomerId", ("CustomerTenantId",), required=True),
    Field("SubscriptionId"),
    Field("OrderId"),
    Field("ProductId"),
    Field("SkuId"),
    Field("AvailabilityId"),
    Field("ProductName"),
    Field("SkuName"),
    Field("ChargeType"),
    Field("ChargeStartDate"),
    Field("ChargeEndDate"),
    Field("UnitPrice", required=True),
    Field("Quantity"),
    Field("BillableQuantity"),
    Field("Subtotal", required=True),
    Field("TaxTotal"),
    Field("Total", required=True),
    Field("Currency", ("BillingCurrency",), required=True),
    Field("AlternateId"),
    Field("ReferenceId"),
]
REQUIRED_VALUES = ["InvoiceNumber", "CustomerId", "UnitPrice", "Subtotal", "Total", "Currency"]
LENGTHS = {
    "InvoiceNumber": 64,
    "SubscriptionId": 64,
    "OrderId": 64,
    "ProductName": 200,
    "SkuName": 200,
    "ChargeType": 64,
}
_CREDIT = r"(?i)refund|credit|cancel"


class InvoiceSpec:
    kind = "pc-invoice"
    fields = FIELDS
    table = cast(Table, ProviderInvoiceLine.__table__)
    columns = [
        "customer_id",
        "invoice_number",
        "provider_subscription_id",
        "order_id",
        "product_name",
        "sku_name",
        "charge_type",
        "charge_start",
        "charge_end",
        "quantity",
        "unit_price_micros",
        "subtotal_micros",
        "tax_micros",
        "total_micros",
        "currency",
        "row_hash",
    ]

    def prepare(self, connection: Connection) -> None:
        self.customers = lookup_table(connection, Customer.provider_customer_id, Customer.id)

    def check(self, cols, problems: Problems, label) -> Checked:
        n = problems.n
        blank_col = pa.array([""] * n, pa.string())

        def col(name: str) -> pa.Array:
            return cols.get(name, blank_col)

        empties = {}
        for name in REQUIRED_VALUES:
            empties[name] = vec.empty(col(name))
            problems.add(empties[name], label(name), lambda i: "required value is empty")
        quantity_name = "BillableQuantity" if "BillableQuantity" in cols else "Quantity"
        if quantity_name not in cols:
            problems.add(np.ones(n, dtype=bool), "BillableQuantity", lambda i: "no quantity column")
        quantity_text = col(quantity_name)
        empty_q = vec.empty(quantity_text)
        problems.add(empty_q, label(quantity_name), lambda i: "required value is empty")

        customer = col("CustomerId")
        customer_ids, found = vec.lookup(customer, *self.customers, lower=True)
        problems.add(
            ~found & ~empties["CustomerId"],
            label("CustomerId"),
            lambda i: f"unknown customer {value(customer, i)!r} (not in the book's customers)",
        )

        dates = {}
        for name in ("ChargeStartDate", "ChargeEndDate"):
            text = col(name)
            days, bad = vec.parse_dates(text)
            blank = vec.empty(text)

            def not_a_date(i: int, text: pa.Array = text) -> str:
                return f"not a date: {value(text, i)!r} (expected M/D/YYYY, 2000 to 2099)"

            problems.add(bad & ~blank, label(name), not_a_date)
            iso = pa.array(np.datetime_as_string(days, unit="D"), pa.string())
            dates[name] = pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), iso)

        quantity, bad_q = vec.parse_quantity(quantity_text)
        problems.add(
            bad_q & ~empty_q,
            label(quantity_name),
            lambda i: f"not a number: {value(quantity_text, i)!r}",
        )
        credit = np.asarray(
            pc.fill_null(pc.match_substring_regex(col("ChargeType"), _CREDIT), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        problems.add(
            (quantity < 0) & ~credit,
            label(quantity_name),
            lambda i: (
                f"negative quantity {value(quantity_text, i)} "
                f"on a {value(col('ChargeType'), i)!r} charge"
            ),
        )

        money = {}
        for name in ("UnitPrice", "Subtotal", "TaxTotal", "Total"):
            text = col(name)
            micros, bad = vec.parse_micros(text)
            blank = vec.empty(text)

            large = vec.too_large(text, bad)  # said in money.beyond_limit's words

            def not_an_amount(i: int, text: pa.Array = text, large=large) -> str:
                return large.get(i) or f"not a finite amount: {value(text, i)!r}"

            problems.add(bad & ~blank, label(name), not_an_amount)
            money[name] = micros

        currency = col("Currency")
        problems.add(
            ~vec.known_currency(currency) & ~empties["Currency"],
            label("Currency"),
            lambda i: f"unknown currency {value(currency, i)!r} (expected an ISO 4217 code)",
        )
        for name, limit in LENGTHS.items():
            if name in cols:
                max_length(problems, cols[name], label(name), limit)

        identity = [
            canonical_texts(col("InvoiceNumber")),
            canonical_texts(customer),
            canonical_texts(col("SubscriptionId")),
            canonical_texts(col("OrderId")),
            canonical_texts(col("ProductId")),
            canonical_texts(col("SkuId")),
            canonical_texts(col("AvailabilityId")),
            canonical_texts(col("ChargeType")),
            pc.fill_null(dates["ChargeStartDate"], ""),
            pc.fill_null(dates["ChargeEndDate"], ""),
            canonical_numbers(quantity_text),
            canonical_numbers(col("UnitPrice")),
            canonical_numbers(col("Subtotal")),
            canonical_numbers(col("TaxTotal")),
            canonical_numbers(col("Total")),
            canonical_texts(currency),
            canonical_texts(col("AlternateId")),
            canonical_texts(col("ReferenceId")),
        ]

        def rows(idx: np.ndarray, hashes: np.ndarray) -> list[tuple]:
            take = pa.array(idx)
            return list(
                zip(
                    customer_ids[idx].tolist(),
                    vec.strings(col("InvoiceNumber").take(take)),
                    vec.nullable_strings(col("SubscriptionId").take(take)),
                    vec.nullable_strings(col("OrderId").take(take)),
                    vec.nullable_strings(col("ProductName").take(take)),
                    vec.nullable_strings(col("SkuName").take(take)),
                    vec.nullable_strings(col("ChargeType").take(take)),
                    dates["ChargeStartDate"].take(take).to_pylist(),
                    dates["ChargeEndDate"].take(take).to_pylist(),
                    quantity[idx].tolist(),
                    money["UnitPrice"][idx].tolist(),
                    money["Subtotal"][idx].tolist(),
                    money["TaxTotal"][idx].tolist(),
                    money["Total"][idx].tolist(),
                    vec.strings(currency.take(take)),
                    hashes.tolist(),
                    strict=True,
                )
            )

        return Checked(identity=identity, rows=rows)
