"""Demo stage: the book writer, every table's columns and rows in storage form.

Rows are tuples in the order of their columns, money as integer micros, ready for
`riskdesk.db.bulk.bulk_insert`; `riskdesk.demo.build_demo_book` writes them.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from riskdesk.demo.model import (
    Book,
    GeneratorBase,
    _uuid,
)


class WriterMixin(GeneratorBase):
    """Turns the planned customers, subscriptions, invoices, payments and orders into rows."""

    def write_book(
        self, usage: dict[str, Any], invoices: list[dict[str, Any]], payments: list[dict[str, Any]]
    ) -> Book:
        tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        tables["customers"] = (
            [
                "id",
                "provider_customer_id",
                "name",
                "domain",
                "country",
                "billing_email",
                "currency",
                "payment_terms_days",
                "credit_limit_micros",
                "tags",
                "created_on",
            ],
            [
                (
                    c.id,
                    c.provider_id,
                    c.name,
                    c.domain,
                    c.country,
                    c.email,
                    c.currency,
                    c.terms,
                    c.credit_limit_micros,
                    json.dumps(c.tags),
                    c.created_on,
                )
                for c in self.customers
            ],
        )
        tables["subscriptions"] = (
            [
                "id",
                "customer_id",
                "provider_subscription_id",
                "offer_id",
                "offer_name",
                "kind",
                "quantity",
                "unit_price_micros",
                "currency",
                "billing_cycle",
                "provider_status",
                "created_on",
            ],
            [
                (
                    s.id,
                    s.cust + 1,
                    s.provider_id,
                    s.offer.offer_id,
                    s.offer.name,
                    s.kind,
                    s.quantity,
                    s.unit_price_micros,
                    s.currency,
                    s.cycle,
                    s.status,
                    s.created_on,
                )
                for s in self.subs
            ],
        )
        tables["invoices"] = (
            [
                "id",
                "customer_id",
                "number",
                "issued_on",
                "due_on",
                "period_start",
                "period_end",
                "currency",
                "total_micros",
                "disputed",
            ],
            [
                (
                    inv["id"],
                    inv["cust"] + 1,
                    inv["number"],
                    inv["issued_on"],
                    inv["due_on"],
                    inv["period_start"],
                    inv["period_end"],
                    inv["currency"],
                    inv["total"],
                    inv["disputed"],
                )
                for inv in invoices
            ],
        )
        line_rows: list[tuple[Any, ...]] = []
        for inv in invoices:
            for no, (desc, sub_id, qty, micros) in enumerate(inv["lines"], start=1):
                line_rows.append((len(line_rows) + 1, inv["id"], no, desc, sub_id, qty, micros))
        tables["invoice_lines"] = (
            [
                "id",
                "invoice_id",
                "line_no",
                "description",
                "subscription_id",
                "quantity_micros",
                "amount_micros",
            ],
            line_rows,
        )
        r = self.r_pay
        pay_rows: list[tuple[Any, ...]] = []
        alloc_rows: list[tuple[Any, ...]] = []
        for p in payments:
            c = self.customers[p["cust"]]
            applies = [a[1] for a in p["allocations"]] if r.random() < 0.85 else []
            pay_rows.append(
                (
                    p["id"],
                    c.id,
                    p["reference"],
                    p["received_on"],
                    p["currency"],
                    p["amount"],
                    c.method,
                    json.dumps(applies),
                )
            )
            for inv_id, _, amount in p["allocations"]:
                alloc_rows.append((len(alloc_rows) + 1, p["id"], inv_id, p["received_on"], amount))
        tables["payments"] = (
            [
                "id",
                "customer_id",
                "reference",
                "received_on",
                "currency",
                "amount_micros",
                "method",
                "applies_to",
            ],
            pay_rows,
        )
        tables["payment_allocations"] = (
            ["id", "payment_id", "invoice_id", "applied_on", "amount_micros"],
            alloc_rows,
        )
        tables["usage_records"] = self._usage_rows(usage, invoices)
        ro = self.r_orders
        self.orders.sort(key=lambda o: (o[1], o[0], o[2]))
        order_rows = []
        for i, (cust, day, offer_id, qty, amount, status) in enumerate(self.orders):
            created_at = day.replace(
                hour=int(ro.integers(7, 20)), minute=int(ro.integers(0, 60)), tzinfo=UTC
            )
            c = self.customers[cust]
            order_rows.append(
                (
                    i + 1,
                    c.id,
                    _uuid(self.r_ids),
                    created_at,
                    offer_id,
                    qty,
                    c.currency,
                    amount,
                    status,
                )
            )
        tables["orders"] = (
            [
                "id",
                "customer_id",
                "provider_order_id",
                "created_at",
                "offer_id",
                "quantity",
                "currency",
                "amount_micros",
                "status",
            ],
            order_rows,
        )
        self.truth.sort(key=lambda t: (t["behaviour"], t["customer_id"], t["start"]))
        return Book(self.seed, self.as_of, self.book_start, self.months, tables, self.truth)
