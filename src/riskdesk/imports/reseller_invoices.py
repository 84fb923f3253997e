"""`invoices`: the reseller's invoices to its customers, one row per invoice line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskdesk.db.models import Invoice, InvoiceLine, Subscription
from riskdesk.imports.headers import Field
from riskdesk.imports.reseller_rows import (
    Checker,
    Record,
    SmallOutcome,
    customers_by_key,
    finish,
    read_records,
)

INVOICE_FIELDS = [
    Field("invoice_number", ("number", "invoice"), required=True),
    Field("customer", ("provider_customer_id", "customer_id"), required=True),
    Field("issued_on", ("invoice_date",), required=True),
    Field("due_on", ("due_date",), required=True),
    Field("period_start"),
    Field("period_end"),
    Field("currency", required=True),
    Field("line_no", ("line",)),
    Field("description", required=True),
    Field("subscription", ("provider_subscription_id", "subscription_id")),
    Field("quantity"),
    Field("amount", required=True),
]
_INVOICE_HEAD = ("customer", "issued_on", "due_on", "period_start", "period_end", "currency")


def import_invoices(
    session: Session, path: Path, label: str, skip_bad_rows: bool, *, actor: str = "riskdesk"
) -> SmallOutcome:
    header, records = read_records(path, INVOICE_FIELDS, label)
    check = Checker(header, INVOICE_FIELDS)
    customers = customers_by_key(session)
    subscriptions = {
        pid.lower(): (sid, cid)
        for pid, sid, cid in session.execute(
            select(Subscription.provider_subscription_id, Subscription.id, Subscription.customer_id)
        )
    }
    out = SmallOutcome(rows_read=len(records))
    invoices: dict[str, list[tuple[Record, dict]]] = {}
    first_line: dict[str, Record] = {}
    for r in records:
        if r.problems:
            number = r.values.get("invoice_number")
            if number:
                invoices.setdefault(number, []).append((r, {}))
            continue
        number = check.text(r, "invoice_number", required=True, limit=64)
        currency = check.currency(r, "currency")
        customer_id = check.customer(r, "customer", customers, currency)
        issued = check.date(r, "issued_on", required=True)
        due = check.date(r, "due_on", required=True)
        if issued and due and due < issued:
            r.problems.append((check.label("due_on"), f"due date {due} is before issue {issued}"))
        start = check.date(r, "period_start")
        end = check.date(r, "period_end")
        if start and end and end < start:
            r.problems.append((check.label("period_end"), f"period ends {end} before it starts"))
        line_no = check.integer(r, "line_no", minimum=1)
        description = check.text(r, "description", required=True, limit=300)
        quantity = check.amount(r, "quantity")
        if quantity is not None and quantity < 0:
            r.problems.append((check.label("quantity"), f"negative quantity {quantity}"))
        amount = check.amount(r, "amount", required=True, currency=currency)
        subscription_id = None
        sub = check.text(r, "subscription", limit=64)
        if sub is not None:
            found = subscriptions.get(sub.lower())
            if found is None:
                r.problems.append((check.label("subscription"), f"unknown subscription {sub!r}"))
            elif customer_id is not None and found[1] != customer_id:
                r.problems.append(
                    (check.label("subscription"), f"subscription {sub!r} is another customer's")
                )
            else:
                subscription_id = found[0]
        if number is None:
            continue
        head = first_line.setdefault(number, r)
        if head is not r and not head.problems:
            for name in _INVOICE_HEAD:
                if r.values.get(name, "") != head.values.get(name, ""):
                    r.problems.append(
                        (check.label(name), f"differs from line {head.line} of invoice {number}")
                    )
        invoices.setdefault(number, []).append(
            (
                r,
                {
                    "customer_id": customer_id,
                    "issued_on": issued,
                    "due_on": due,
                    "period_start": start,
                    "period_end": end,
                    "currency": currency,
                    "line_no": line_no,
                    "description": description,
                    "subscription_id": subscription_id,
                    "quantity": Decimal(1) if quantity is None else quantity,
                    "amount": amount,
                },
            )
        )
    existing: set[str] = set()
    numbers = list(invoices)
    for i in range(0, len(numbers), 500):
        existing.update(
            session.scalars(select(Invoice.number).where(Invoice.number.in_(numbers[i : i + 500])))
        )
    new_invoices = []
    for number, lines in invoices.items():
        seen_no: dict[int, int] = {}
        for position, (r, v) in enumerate(lines, start=1):
            if v and v["line_no"] is None:
                v["line_no"] = position
            if v and v["line_no"] is not None:
                if v["line_no"] in seen_no:
                    r.problems.append(
                        (
                            check.label("line_no"),
                            f"duplicate line_no, see line {seen_no[v['line_no']]}",
                        )
                    )
                seen_no.setdefault(v["line_no"], r.line)
        bad = [r for r, _ in lines if r.problems]
        if bad:
            for r, _ in lines:
                if not r.problems:
                    r.problems.append(
                        (
                            check.label("invoice_number"),
                            f"invoice {number} has a bad row on line {bad[0].line}",
                        )
                    )
            continue
        if number in existing:
            out.rows_duplicate += len(lines)
            continue
        first = lines[0][1]
        invoice = Invoice(
            customer_id=first["customer_id"],
            number=number,
            issued_on=first["issued_on"],
            due_on=first["due_on"],
            period_start=first["period_start"],
            period_end=first["period_end"],
            currency=first["currency"],
            total=sum((v["amount"] for _, v in lines), Decimal(0)),
            lines=[
                InvoiceLine(
                    line_no=v["line_no"],
                    description=v["description"],
                    subscription_id=v["subscription_id"],
                    quantity=v["quantity"],
                    amount=v["amount"],
                )
                for _, v in lines
            ],
        )
        new_invoices.append(invoice)
        out.customer_ids.add(first["customer_id"])
        out.rows_inserted += len(lines)
    finish(out, records, label)
    if new_invoices and (skip_bad_rows or not out.errors):
        session.add_all(new_invoices)
        session.flush()
    else:
        out.rows_inserted = 0
    return out
