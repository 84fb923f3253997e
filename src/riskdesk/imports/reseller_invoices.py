"""`invoices`: the reseller's invoices to its customers, one row per invoice line.

An optional `disputed` column (true/false, yes/no, 1/0) marks an invoice the customer
disputes. A new invoice so marked is recorded as `invoices dispute` records one
(`riskdesk.book.disputes`): `invoices.disputed` set, an open `invoice_disputes` row naming
the file and who imported it, and an `invoice.disputed` audit event, so the facts leave it
out of what is overdue and it can be resolved as any dispute. An invoice already in the book
is skipped whole, as always; when the file says otherwise about its dispute, a note says so
(a known invoice's dispute is opened or resolved as a dispute, not by an import).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.db.models import Invoice, InvoiceDispute, InvoiceLine, Subscription
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
    Field("disputed", ("in_dispute",)),
]
_INVOICE_HEAD = ("customer", "issued_on", "due_on", "period_start", "period_end", "currency")


def import_invoices(
    session: Session,
    path: Path,
    label: str,
    skip_bad_rows: bool,
    *,
    actor: str = "riskdesk",
    today: date,
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
    out = SmallOutcome(rows_read=len(records), ignored_columns=check.ignored)
    invoices: dict[str, list[tuple[Record, dict]]] = {}
    first_line: dict[str, Record] = {}
    first_disputed: dict[str, bool] = {}
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
        problems_before = len(r.problems)
        disputed = check.boolean(r, "disputed")
        disputed_ok = len(r.problems) == problems_before
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
        if head is r:
            first_disputed[number] = bool(disputed)
        elif not head.problems:
            for name in _INVOICE_HEAD:
                if r.values.get(name, "") != head.values.get(name, ""):
                    r.problems.append(
                        (check.label(name), f"differs from line {head.line} of invoice {number}")
                    )
            if disputed_ok and bool(disputed) != first_disputed[number]:
                said = "disputed" if first_disputed[number] else "not disputed"
                r.problems.append(
                    (
                        check.label("disputed"),
                        f"differs from line {head.line} of invoice {number} ({said} there): "
                        "an invoice is disputed as a whole",
                    )
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
                    "disputed": disputed,
                },
            )
        )
    existing: dict[str, bool] = {}  # number -> disputed in the book
    numbers = list(invoices)
    for i in range(0, len(numbers), 500):
        query = select(Invoice.number, Invoice.disputed).where(
            Invoice.number.in_(numbers[i : i + 500])
        )
        existing.update((number, disputed) for number, disputed in session.execute(query))
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
        head_values = lines[0][1]
        if head_values.get("disputed") and not any(r.problems for r, _ in lines):
            owed = sum((v["amount"] for _, v in lines), Decimal(0))
            if owed <= 0:
                lines[0][0].problems.append(
                    (
                        check.label("disputed"),
                        f"invoice {number} totals {owed}: nothing is owed, so nothing to dispute",
                    )
                )
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
            in_file = head_values.get("disputed")
            if in_file is not None and in_file != existing[number]:
                out.notes.append(
                    f"invoice {number} is already in the book and was skipped: the file marks it "
                    f"{'disputed' if in_file else 'not disputed'}, the book "
                    f"{'has an open dispute' if existing[number] else 'has no open dispute'} "
                    "(a known invoice's dispute is opened or resolved as a dispute, "
                    "not by an import)"
                )
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
            disputed=bool(first["disputed"]),
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
        _record_disputes(session, [i for i in new_invoices if i.disputed], label, actor)
    else:
        out.rows_inserted = 0
    return out


def _record_disputes(session: Session, invoices: list[Invoice], label: str, actor: str) -> None:
    """Open a dispute for each new invoice the file marks disputed, as `open_dispute` does."""
    if not invoices:
        return
    now = datetime.now(UTC)
    reason = f"marked disputed in the imported file {label}"
    disputes = [
        InvoiceDispute(
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            reason=reason,
            opened_at=now,
            opened_by=actor,
        )
        for invoice in invoices
    ]
    session.add_all(disputes)
    session.flush()
    for invoice, dispute in zip(invoices, disputes, strict=True):
        audit.record(
            session,
            actor=actor,
            action="invoice.disputed",
            subject_type="customer",
            subject_id=invoice.customer_id,
            data={
                "dispute_id": dispute.id,
                "invoice": invoice.number,
                "reason": reason,
                "open_amount": str(invoice.total),
                "currency": invoice.currency,
            },
            occurred_at=now,
        )
