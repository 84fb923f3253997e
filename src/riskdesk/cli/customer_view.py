"""How `customers show` prints one customer."""

from __future__ import annotations

from datetime import date

from rich.table import Table

from riskdesk.book.detail import CustomerDetail
from riskdesk.cli._common import console, money


def print_customer(detail: CustomerDetail, day: date) -> None:
    c, f = detail.customer, detail.facts
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    for label, value in (
        ("customer", f"{c.name} (#{c.id})"),
        ("provider id", c.provider_customer_id),
        ("domain", c.domain or ""),
        ("country", c.country or ""),
        ("billing e-mail", c.billing_email or ""),
        ("terms", f"{c.payment_terms_days} days"),
        ("tags", ", ".join(c.tags)),
        ("customer since", str(c.created_on)),
        ("credit limit", money(f.credit_limit)),
        ("open balance", money(f.open_balance)),
        ("overdue", f"{money(f.overdue_amount)} ({f.days_past_due} days past due)"),
        ("unbilled usage", money(f.unbilled_usage)),
        ("open orders", money(f.open_orders)),
        ("exposure", money(f.exposure)),
        ("unapplied credit", money(f.unapplied_credit)),
    ):
        info.add_row(label, value)
    console.print(info)
    subs = Table(title="Subscriptions")
    for column in ("provider id", "offer", "kind", "qty", "status", "held for"):
        subs.add_column(column)
    for s in detail.subscriptions:
        subs.add_row(
            s.provider_subscription_id,
            s.offer_name,
            s.kind,
            str(s.quantity),
            s.provider_status,
            ", ".join(s.suspension_reasons),
        )
    console.print(subs)
    invoices = Table(title=f"Unpaid invoices as of {day}")
    for column in ("number", "issued", "due", "total", "open", "days past due", "disputed"):
        invoices.add_column(column)
    for i in detail.open_invoices:
        invoices.add_row(
            i.number,
            str(i.issued_on),
            str(i.due_on),
            money(i.total),
            money(i.open_amount),
            str(i.days_past_due),
            "yes" if i.disputed else "",
        )
    console.print(invoices)
