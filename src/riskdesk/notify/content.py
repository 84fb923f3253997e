"""What a notice says, as kept in its outbox action's payload (`payload["notice"]`).

A notice's content is decided when it is planned, from the book as of the decision's day,
and kept with the action: the book then records what each customer was told, and the
executor only renders and sends it. The content is plain JSON (amounts as decimal strings
with their currency) so it survives the outbox unchanged:

- ``invoices``: the invoices the notice is about. A notice about what is overdue lists only
  invoices past their due date on the day; a reinstatement notice lists what is still open.
- ``subscriptions``: what a suspension or reinstatement notice announces, by name and id;
  ``all_subscriptions`` says whether they are every live subscription of the customer.
- ``still_suspended``: a reinstatement that lifts only some suspensions says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from riskdesk.book.open_invoices import OpenInvoice
from riskdesk.money import Money

#: `payload["announces"]` of the notice that confirms access was restored.
REINSTATEMENT = "reinstatement"


@dataclass(frozen=True)
class NoticeInvoice:
    number: str
    issued_on: date
    due_on: date
    open_amount: Money
    days_past_due: int
    disputed: bool = False


@dataclass(frozen=True)
class NoticeSubscription:
    provider_subscription_id: str
    name: str


@dataclass(frozen=True)
class NoticeContent:
    invoices: list[NoticeInvoice]
    subscriptions: list[NoticeSubscription]
    all_subscriptions: bool = False
    still_suspended: bool = False


def invoices_for_notice(
    invoices: Iterable[OpenInvoice], *, announces: str | None
) -> list[NoticeInvoice]:
    """The invoices a notice lists: past due only, unless it confirms a reinstatement."""
    return [
        NoticeInvoice(i.number, i.issued_on, i.due_on, i.open_amount, i.days_past_due, i.disputed)
        for i in invoices
        if announces == REINSTATEMENT or i.days_past_due > 0
    ]


def content_to_payload(content: NoticeContent) -> dict[str, Any]:
    return {
        "invoices": [
            {
                "number": i.number,
                "issued_on": i.issued_on.isoformat(),
                "due_on": i.due_on.isoformat(),
                "open_amount": str(i.open_amount.amount),
                "currency": i.open_amount.currency,
                "days_past_due": i.days_past_due,
                "disputed": i.disputed,
            }
            for i in content.invoices
        ],
        "subscriptions": [
            {"id": s.provider_subscription_id, "name": s.name} for s in content.subscriptions
        ],
        "all_subscriptions": content.all_subscriptions,
        "still_suspended": content.still_suspended,
    }


def content_from_payload(data: Mapping[str, Any]) -> NoticeContent:
    return NoticeContent(
        invoices=[
            NoticeInvoice(
                number=i["number"],
                issued_on=date.fromisoformat(i["issued_on"]),
                due_on=date.fromisoformat(i["due_on"]),
                open_amount=Money(Decimal(i["open_amount"]), i["currency"]),
                days_past_due=int(i["days_past_due"]),
                disputed=bool(i.get("disputed", False)),
            )
            for i in data.get("invoices", ())
        ],
        subscriptions=[
            NoticeSubscription(s["id"], s["name"]) for s in data.get("subscriptions", ())
        ],
        all_subscriptions=bool(data.get("all_subscriptions", False)),
        still_suspended=bool(data.get("still_suspended", False)),
    )


def subscriptions_named(rows: Sequence[tuple[str, str]]) -> list[NoticeSubscription]:
    """(provider id, offer name) pairs as a notice lists them: by name, then id."""
    return [NoticeSubscription(pid, name) for pid, name in sorted(rows, key=lambda r: (r[1], r[0]))]
