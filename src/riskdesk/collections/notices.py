"""What each notice a run plans says, decided with the plan and kept in the action's payload.

`with_notice_content` completes the outbox rows of a run: every notice gets
`payload["notice"]` (see `riskdesk.notify.content`) from the book as of the decision's day,
in a fixed number of queries for the whole run:

- the invoices it is about: those past their due date, or for a reinstatement notice all
  that is still open;
- a notice in a transition that suspends lists the subscriptions that transition suspends
  (and whether that is all of the customer's live subscriptions);
- a reinstatement notice lists the subscriptions its transition's reactivations give back:
  those held for non-payment only (one also held for another reason, a fraud case say,
  stays suspended and is not named). It waits for those reactivations (`payload["after"]`,
  which the executor honours); when nothing would be given back it is not written at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from riskdesk.actions.outbox import OutboxRow
from riskdesk.book.open_invoices import invoice_balances
from riskdesk.collections.plan import NON_PAYMENT, NOTIFY, REACTIVATE, REINSTATEMENT, SUSPEND
from riskdesk.db.models import Subscription, SubscriptionSuspension
from riskdesk.notify.content import (
    NoticeContent,
    content_to_payload,
    invoices_for_notice,
    subscriptions_named,
)

_CHUNK = 5000


def with_notice_content(
    connection: Connection,
    rows: Sequence[OutboxRow],
    live: Mapping[int, Sequence[tuple[int, str, str]]],
) -> list[OutboxRow]:
    """`rows` with each notice's content in its payload (reinstatement notices that would
    give nothing back dropped); other rows unchanged, in the same order. `live`: the live
    subscriptions (id, kind, offer) of every customer with suspensions planned."""
    notices = [r for r in rows if r.kind == NOTIFY]
    if not notices:
        return list(rows)
    by_transition: dict[str, list[OutboxRow]] = defaultdict(list)
    for row in rows:
        if row.kind in (SUSPEND, REACTIVATE) and row.subscription_id is not None:
            by_transition[row.payload.get("transition") or ""].append(row)
    invoices = _invoices_by_day(connection, notices)
    related = [
        r
        for t in {n.payload.get("transition") or "" for n in notices}
        for r in by_transition.get(t, ())
        if r.subscription_id is not None
    ]
    names, reasons = _subscription_names_and_reasons(
        connection,
        [r.subscription_id for r in related if r.subscription_id is not None],
        [r.subscription_id for r in related if r.kind == REACTIVATE and r.subscription_id],
    )
    out: list[OutboxRow] = []
    for row in rows:
        if row.kind != NOTIFY:
            out.append(row)
            continue
        payload = row.payload
        announces = payload.get("announces")
        day = payload["as_of"]
        related = by_transition.get(payload.get("transition") or "", [])
        after: list[str] = []
        if announces == REINSTATEMENT:
            given_back = [
                r
                for r in related
                if r.kind == REACTIVATE and reasons.get(r.subscription_id or 0) == {NON_PAYMENT}
            ]
            if not given_back:
                continue  # nothing held for non-payment alone: no access is restored
            subscriptions = {r.subscription_id for r in given_back}
            after = [r.idempotency_key for r in given_back]
        else:
            subscriptions = {r.subscription_id for r in related if r.kind == SUSPEND}
        content = NoticeContent(
            invoices=invoices_for_notice(
                invoices.get((day, row.customer_id), ()), announces=announces
            ),
            subscriptions=subscriptions_named(
                [names[s] for s in subscriptions if s is not None and s in names]
            ),
            all_subscriptions=bool(subscriptions)
            and {sid for sid, _, _ in live.get(row.customer_id, ())} <= subscriptions,
            still_suspended=bool(payload.get("still_suspended")),
        )
        extra: dict[str, Any] = {"notice": content_to_payload(content)}
        if after:
            extra["after"] = after
        out.append(row._replace(payload=payload | extra))
    return out


def _invoices_by_day(connection: Connection, notices: Sequence[OutboxRow]) -> dict[tuple, list]:
    """Open invoices per (decision day, customer): those past due, and every open one for a
    customer told of a reinstatement; a query or two per day (a run has one day)."""
    days: dict[tuple[str, bool], set[int]] = defaultdict(set)
    for row in notices:
        every_open = row.payload.get("announces") == REINSTATEMENT
        days[(row.payload["as_of"], every_open)].add(row.customer_id)
    found: dict[tuple, list] = {}
    for (day, every_open), customer_ids in days.items():
        if not every_open:  # a customer read with every open invoice needs no second read
            customer_ids = customer_ids - days.get((day, True), set())
        for cid, invoices in invoice_balances(
            connection, customer_ids, date.fromisoformat(day), past_due_only=not every_open
        ).items():
            found[(day, cid)] = invoices
    return found


def _subscription_names_and_reasons(
    connection: Connection, subscription_ids: Sequence[int], reactivated: Sequence[int]
) -> tuple[dict[int, tuple[str, str]], dict[int, set[str]]]:
    """(provider id, offer name) of each subscription, and the suspension reasons of those
    to be reactivated (whether a reinstatement gives them back)."""
    ids = sorted(set(subscription_ids))
    names: dict[int, tuple[str, str]] = {}
    reasons: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for sid, pid, name in connection.execute(
            select(
                Subscription.id, Subscription.provider_subscription_id, Subscription.offer_name
            ).where(Subscription.id.in_(chunk))
        ):
            names[sid] = (pid, name)
    back = sorted(set(reactivated))
    for start in range(0, len(back), _CHUNK):
        chunk = back[start : start + _CHUNK]
        for sid, reason in connection.execute(
            select(SubscriptionSuspension.subscription_id, SubscriptionSuspension.reason).where(
                SubscriptionSuspension.subscription_id.in_(chunk)
            )
        ):
            reasons[sid].add(reason)
    return names, reasons
