"""Promises to pay: recording one, cancelling it, and judging it once its date has passed.

A promise is in force from the day it is recorded through its date (`due_on`, inclusive);
the collections evaluator holds escalation while an active promise is in force
(`riskdesk.collections.run` reads active promises with `promised_on <= as_of` and takes the
latest `due_on`).

- The amount is in the customer's own currency, and the date is today or later.
- At most one promise in force per customer. The evaluator would hold escalation until the
  latest date of all active promises, so a second promise would quietly push that date out;
  a changed promise is recorded by cancelling the old one first, which the audit trail shows.
- A promise whose date has passed is judged when the customer's next promise is recorded:
  `kept` if the payments received from the day it was made through its date (credit notes not
  counted) add up to the amount promised, else `broken`. Until then it stays `active` and is
  shown as lapsed (`PromiseView.lapsed`); it no longer holds anything.

Every change is audited in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.book.disputes import CREDIT_NOTE
from riskdesk.db.models import Customer, Payment, PromiseStatus, PromiseToPay
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.money import Money, micros_to_decimal


@dataclass(frozen=True)
class PromiseView:
    id: int
    customer_id: int
    customer: str
    amount: Money
    promised_on: date
    due_on: date
    status: str
    lapsed: bool  # active, but its date has passed: it holds nothing any more
    paid: Money  # received from promised_on through due_on (through today while in force)
    note: str | None
    created_by: str
    created_at: datetime


def _label(customer: Customer) -> str:
    return f"customer {customer.name!r} (#{customer.id})"


def _paid_towards(session: Session, promise: PromiseToPay, today: date) -> Decimal:
    """Payments (not credit notes) received from the promise's day through its date (or today)."""
    total = session.scalar(
        select(type_coerce(func.sum(Payment.amount), BigInteger)).where(
            Payment.customer_id == promise.customer_id,
            Payment.currency == promise.currency,
            Payment.received_on >= promise.promised_on,
            Payment.received_on <= min(promise.due_on, today),
            or_(Payment.method.is_(None), Payment.method != CREDIT_NOTE),
            Payment.reversed_at.is_(None),
        )
    )
    return micros_to_decimal(total or 0)


def judge_lapsed(
    session: Session, customer_id: int, *, today: date, actor: str, now: datetime
) -> list[PromiseToPay]:
    """Mark the customer's active promises whose date has passed kept or broken (audited)."""
    lapsed = session.scalars(
        select(PromiseToPay)
        .where(
            PromiseToPay.customer_id == customer_id,
            PromiseToPay.status == PromiseStatus.ACTIVE.value,
            PromiseToPay.due_on < today,
        )
        .order_by(PromiseToPay.id)
    ).all()
    for promise in lapsed:
        paid = _paid_towards(session, promise, today)
        status = PromiseStatus.KEPT if paid >= promise.amount else PromiseStatus.BROKEN
        promise.status = status.value
        audit.record(
            session,
            actor=actor,
            action=f"promise.{status.value}",
            subject_type="customer",
            subject_id=customer_id,
            data={
                "promise_id": promise.id,
                "amount": str(promise.amount),
                "currency": promise.currency,
                "due_on": promise.due_on.isoformat(),
                "paid": str(paid),
            },
            occurred_at=now,
        )
    session.flush()
    return list(lapsed)


def add_promise(
    session: Session,
    customer: Customer,
    *,
    amount: Money,
    by_date: date,
    note: str | None,
    actor: str,
    now: datetime,
    today: date,
) -> PromiseToPay:
    """Record `customer`'s promise to pay `amount` by `by_date` (see the module's rules)."""
    label = _label(customer)
    if amount.currency != customer.currency:
        raise InvalidInputError(
            f"promise of {amount} by {label}: the customer is invoiced in {customer.currency}, "
            f"so the promise must be in {customer.currency}"
        )
    if amount.amount <= 0:
        raise InvalidInputError(f"promise of {amount} by {label}: the amount must be positive")
    if by_date < today:
        raise InvalidInputError(
            f"promise by {label} to pay by {by_date.isoformat()}: that day is before today "
            f"({today.isoformat()}); a promise is for a day still to come"
        )
    # One writer per customer at a time (PostgreSQL), so two promises cannot both be first.
    session.scalars(select(Customer.id).where(Customer.id == customer.id).with_for_update()).all()
    judge_lapsed(session, customer.id, today=today, actor=actor, now=now)
    standing = session.scalars(
        select(PromiseToPay)
        .where(
            PromiseToPay.customer_id == customer.id,
            PromiseToPay.status == PromiseStatus.ACTIVE.value,
        )
        .order_by(PromiseToPay.due_on)
    ).first()
    if standing is not None:
        raise ConflictError(
            f"{label} already has promise #{standing.id} to pay {standing.amount_money} by "
            f"{standing.due_on.isoformat()} (recorded by {standing.created_by} on "
            f"{standing.promised_on.isoformat()}); one promise at a time: cancel that one "
            "before recording a new one"
        )
    text = (note or "").strip() or None
    promise = PromiseToPay(
        customer_id=customer.id,
        promised_on=today,
        due_on=by_date,
        amount=amount.amount,
        currency=amount.currency,
        status=PromiseStatus.ACTIVE.value,
        note=text,
        created_by=actor,
        created_at=now,
    )
    session.add(promise)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="promise.added",
        subject_type="customer",
        subject_id=customer.id,
        data={
            "promise_id": promise.id,
            "amount": str(amount.amount),
            "currency": amount.currency,
            "due_on": by_date.isoformat(),
            "note": text,
        },
        occurred_at=now,
    )
    return promise


def cancel_promise(
    session: Session, promise_id: int, *, reason: str | None, actor: str, now: datetime
) -> PromiseToPay:
    """Cancel an active promise (audited with the reason); it holds nothing from then on."""
    promise = session.scalars(
        select(PromiseToPay).where(PromiseToPay.id == promise_id).with_for_update()
    ).first()
    if promise is None:
        raise NotFoundError(f"unknown promise to pay #{promise_id}")
    customer = session.get_one(Customer, promise.customer_id)
    if promise.status != PromiseStatus.ACTIVE.value:
        raise ConflictError(
            f"promise #{promise.id} of {_label(customer)} is {promise.status}, not active: "
            "only an active promise can be cancelled"
        )
    promise.status = PromiseStatus.CANCELLED.value
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="promise.cancelled",
        subject_type="customer",
        subject_id=customer.id,
        data={
            "promise_id": promise.id,
            "amount": str(promise.amount),
            "currency": promise.currency,
            "due_on": promise.due_on.isoformat(),
            "reason": (reason or "").strip() or None,
        },
        occurred_at=now,
    )
    return promise


def list_promises(
    session: Session,
    *,
    today: date,
    customer_id: int | None = None,
    statuses: Sequence[PromiseStatus] | None = None,
) -> list[PromiseView]:
    """Promises (newest first), optionally one customer's and only some statuses.

    One statement: each promise with its customer's name and what was paid towards it.
    """
    paid = (
        select(type_coerce(func.coalesce(func.sum(Payment.amount), 0), BigInteger))
        .where(
            Payment.customer_id == PromiseToPay.customer_id,
            Payment.currency == PromiseToPay.currency,
            Payment.received_on >= PromiseToPay.promised_on,
            Payment.received_on <= PromiseToPay.due_on,
            Payment.received_on <= today,
            or_(Payment.method.is_(None), Payment.method != CREDIT_NOTE),
            Payment.reversed_at.is_(None),
        )
        .correlate(PromiseToPay)
        .scalar_subquery()
    )
    query = select(PromiseToPay, Customer.name, paid.label("paid_micros")).join(
        Customer, and_(Customer.id == PromiseToPay.customer_id)
    )
    if customer_id is not None:
        query = query.where(PromiseToPay.customer_id == customer_id)
    if statuses is not None:
        query = query.where(PromiseToPay.status.in_([PromiseStatus(s).value for s in statuses]))
    rows = session.execute(query.order_by(PromiseToPay.id.desc())).all()
    return [
        PromiseView(
            id=p.id,
            customer_id=p.customer_id,
            customer=name,
            amount=p.amount_money,
            promised_on=p.promised_on,
            due_on=p.due_on,
            status=p.status,
            lapsed=p.status == PromiseStatus.ACTIVE.value and p.due_on < today,
            paid=Money(micros_to_decimal(paid_micros or 0), p.currency),
            note=p.note,
            created_by=p.created_by,
            created_at=p.created_at,
        )
        for p, name, paid_micros in rows
    ]
