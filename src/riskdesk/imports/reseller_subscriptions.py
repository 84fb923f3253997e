"""`subscriptions`: the reseller's own list of its customers' subscriptions.

For a reseller without Partner Center API access (no `riskdesk sync`): the same fields the
sync writes (`providers.sync_write.apply_subscriptions`), from a file. Identity is the
subscription id, case-insensitive. A subscription already in the book is updated with the
values the file gives (status, quantity, offer, kind, billing cycle, price) and counted as
updated; one the file states exactly as the book has it is a duplicate. Columns left out, or
left empty, keep the book's value (a new subscription gets the default). A subscription is
never moved to another customer (a bad row), and the holds riskdesk placed on it
(`subscription_suspensions`) are not touched: the status is the provider's, as the file says.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.db.models import Subscription, SubscriptionKind
from riskdesk.imports.headers import Field
from riskdesk.imports.reseller_rows import (
    Checker,
    SmallOutcome,
    customers_by_key,
    finish,
    read_records,
)

SUBSCRIPTION_FIELDS = [
    Field("subscription", ("provider_subscription_id", "subscription_id"), required=True),
    Field("customer", ("provider_customer_id", "customer_id"), required=True),
    Field("offer_id", ("offer",), required=True),
    Field("offer_name", ("product_name", "friendly_name")),
    Field("kind", ("billing_type",)),
    Field("quantity", ("seats",)),
    Field("unit_price", ("price",)),
    Field("currency"),
    Field("billing_cycle", ("cycle",)),
    Field("status", ("provider_status",)),
    Field("created_on", ("creation_date",)),
]

#: Partner Center's subscription statuses (providers.records.SubscriptionStatus).
STATUSES = ("active", "suspended", "deleted", "pending", "expired", "disabled")
#: Billing cycles as the sync stores them (Partner Center's, less `unknown`).
BILLING_CYCLES = ("monthly", "annual", "triennial", "one_time", "none")
#: `kind` values, with Partner Center's billingType spellings.
KINDS = {
    "seat": SubscriptionKind.SEAT.value,
    "license": SubscriptionKind.SEAT.value,
    "consumption": SubscriptionKind.CONSUMPTION.value,
    "usage": SubscriptionKind.CONSUMPTION.value,
}
_MAX_QUANTITY = 2**31 - 1


def _json(value: Any) -> Any:
    return value if value is None or isinstance(value, int | str) else str(value)


def _choice(check: Checker, r, name: str, allowed) -> str | None:
    value = check.text(r, name, limit=32)
    if value is None:
        return None
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in allowed:
        r.problems.append(
            (
                check.label(name),
                f"unknown {name.replace('_', ' ')} {value!r} "
                f"(expected one of {', '.join(allowed)})",
            )
        )
        return None
    return key


def import_subscriptions(
    session: Session,
    path: Path,
    label: str,
    skip_bad_rows: bool,
    *,
    actor: str = "riskdesk",
    today: date,
) -> SmallOutcome:
    header, records = read_records(path, SUBSCRIPTION_FIELDS, label)
    check = Checker(header, SUBSCRIPTION_FIELDS)
    customers = customers_by_key(session)
    currency_of = {cid: cur for cid, cur in customers.values()}
    book = {s.provider_subscription_id.lower(): s for s in session.scalars(select(Subscription))}
    out = SmallOutcome(rows_read=len(records), ignored_columns=check.ignored)
    seen: dict[str, int] = {}
    new_rows: list[dict[str, Any]] = []
    updates: list[tuple[Subscription, dict[str, Any]]] = []
    for r in records:
        if r.problems:
            continue
        sub_id = check.text(r, "subscription", required=True, limit=64)
        currency = None
        if r.values.get("currency"):
            currency = check.currency(r, "currency")
        customer_id = check.customer(r, "customer", customers, currency)
        offer_id = check.text(r, "offer_id", required=True, limit=100)
        offer_name = check.text(r, "offer_name", limit=200)
        kind = _choice(check, r, "kind", KINDS)
        quantity = check.integer(r, "quantity", minimum=0)
        if quantity is not None and quantity > _MAX_QUANTITY:
            r.problems.append((check.label("quantity"), f"quantity too large: {quantity}"))
            quantity = None
        price_currency = currency or (currency_of.get(customer_id) if customer_id else None)
        unit_price = check.amount(r, "unit_price", currency=price_currency)
        if unit_price is not None and unit_price < 0:
            r.problems.append((check.label("unit_price"), f"negative unit price {unit_price}"))
        cycle = _choice(check, r, "billing_cycle", BILLING_CYCLES)
        status = _choice(check, r, "status", STATUSES)
        created = check.date(r, "created_on")
        if sub_id is not None:
            key = sub_id.lower()
            if key in seen:
                r.problems.append((check.label("subscription"), f"duplicate of line {seen[key]}"))
            seen.setdefault(key, r.line)
            existing = book.get(key)
            if (
                existing is not None
                and customer_id is not None
                and existing.customer_id != customer_id
            ):
                r.problems.append(
                    (
                        check.label("customer"),
                        f"subscription {sub_id!r} is another customer's in the book",
                    )
                )
        if r.problems or sub_id is None or customer_id is None or offer_id is None:
            continue
        given: dict[str, Any] = {
            "offer_id": offer_id,
            "offer_name": offer_name,
            "kind": None if kind is None else KINDS[kind],
            "quantity": quantity,
            "unit_price": unit_price,
            "billing_cycle": cycle,
            "provider_status": status,
            "created_on": created,
        }
        existing = book.get(sub_id.lower())
        if existing is None:
            sub_kind = given["kind"] or SubscriptionKind.SEAT.value
            new_rows.append(
                {
                    "customer_id": customer_id,
                    "provider_subscription_id": sub_id,
                    "offer_id": offer_id,
                    "offer_name": offer_name or offer_id,
                    "kind": sub_kind,
                    "quantity": 1 if quantity is None else quantity,
                    "unit_price": Decimal(0) if unit_price is None else unit_price,
                    "currency": currency_of[customer_id],
                    "billing_cycle": cycle
                    or ("none" if sub_kind == SubscriptionKind.CONSUMPTION.value else "monthly"),
                    "provider_status": status or "active",
                    "created_on": created or today,
                }
            )
            continue
        changes = {
            name: [getattr(existing, name), value]
            for name, value in given.items()
            if value is not None and getattr(existing, name) != value
        }
        if changes:
            updates.append((existing, changes))
        else:
            out.rows_duplicate += 1
    finish(out, records, label)
    if skip_bad_rows or not out.errors:
        if new_rows:
            for row in new_rows:
                session.add(Subscription(**row))
            session.flush()
            out.rows_inserted = len(new_rows)
        for sub, changes in updates:
            for name, (_old, new) in changes.items():
                setattr(sub, name, new)
            session.flush()
            audit.record(
                session,
                actor=actor,
                action="subscription.imported_changes",
                subject_type="subscription",
                subject_id=sub.id,
                data={
                    "provider_subscription_id": sub.provider_subscription_id,
                    "file": label,
                    "changes": {k: [_json(v[0]), _json(v[1])] for k, v in changes.items()},
                },
            )
        out.rows_updated = len(updates)
    return out
