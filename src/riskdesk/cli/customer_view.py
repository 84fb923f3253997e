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
    if f.unconverted_usage:
        amounts = ", ".join(money(m) for m in f.unconverted_usage)
        console.print(
            f"warning: unbilled usage of {amounts} has no rate into {f.currency}: it is not in "
            "unbilled usage or exposure (import a rate with `riskdesk rates import`)",
            style="bold yellow",
            markup=False,
        )
    print_standing(detail)
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


def _when(value) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


def print_standing(detail: CustomerDetail) -> None:
    """What a credit controller asks first: stage, holds, what waits, what was said."""
    standing = detail.collections
    stage = standing.stage or "in good standing"
    since = f" since {standing.entered_on}" if standing.entered_on else ""
    flags = [
        label
        for label, on in (
            ("new orders blocked", standing.orders_blocked),
            ("subscriptions suspended", standing.subscriptions_suspended),
        )
        if on
    ]
    console.print(f"collections: {stage}{since}" + (f" ({', '.join(flags)})" if flags else ""))
    if detail.holds:
        holds = Table(title="Holds on subscriptions")
        for column in ("subscription", "offer", "reason", "since", "note"):
            holds.add_column(column)
        for h in detail.holds:
            holds.add_row(
                h.provider_subscription_id, h.offer_name, h.reason, _when(h.since), h.note or ""
            )
        console.print(holds)
    if detail.waiting_actions:
        waiting = Table(title="Actions waiting or in progress")
        for column in ("id", "kind", "subscription", "status", "stage", "why", "claimed"):
            waiting.add_column(column, overflow="fold")
        for a in detail.waiting_actions:
            waiting.add_row(
                str(a.id),
                a.kind,
                a.provider_subscription_id or "",
                a.status,
                a.stage or "",
                (a.last_error or a.reason or "")[:160],
                _when(a.claimed_at),
            )
        console.print(waiting)
    if detail.notices:
        notices = Table(title=f"Notices sent ({detail.notices_sent:,} in all, latest first)")
        for column in ("sent", "template", "stage", "to", "subject"):
            notices.add_column(column, overflow="fold")
        for n in detail.notices:
            notices.add_row(
                _when(n.sent_at), n.template or "", n.stage or "", n.to or "", n.subject or ""
            )
        console.print(notices)
    if detail.disputes:
        disputes = Table(title="Open disputes")
        for column in ("invoice", "issued", "due", "total", "open"):
            disputes.add_column(column)
        for d in detail.disputes:
            disputes.add_row(
                d.number, str(d.issued_on), str(d.due_on), money(d.total), money(d.open_amount)
            )
        console.print(disputes)
    if detail.promises:
        promises = Table(title="Promises to pay")
        for column in ("id", "promised", "due", "amount", "by", "note"):
            promises.add_column(column)
        for p in detail.promises:
            promises.add_row(
                str(p.id),
                str(p.promised_on),
                f"{p.due_on}{' (overdue)' if p.overdue else ''}",
                money(p.amount),
                p.created_by,
                p.note or "",
            )
        console.print(promises)
