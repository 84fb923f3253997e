"""Payments: recording one, finding one by its reference, reversing one.

How payments meet invoices is `riskdesk.book.allocation` (`allocate`, re-exported here):
recording or reversing a payment re-applies its customer's payments in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from riskdesk import audit
from riskdesk.book._sql import (
    query,
)
from riskdesk.book.allocation import allocate, lock_allocation, refresh_settlement
from riskdesk.db.models import Customer, Invoice, Payment, PaymentAllocation
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.money import Money, beyond_limit, finer_than_currency

__all__ = [
    "PaymentError",
    "Reversal",
    "check_payment",
    "allocate",
    "find_payment",
    "payment_problems",
    "record_payment",
    "reference_key",
    "reference_key_sql",
    "refresh_settlement",
    "reverse_payment",
]


class PaymentError(InvalidInputError):
    """A payment that cannot be recorded as given (currency, invoices named, reference)."""


#: The longest payment reference riskdesk stores (`payments.reference` is VARCHAR(64)).
REFERENCE_LIMIT = 64
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FOLD = str.maketrans(_UPPER, _UPPER.lower())


def reference_key(reference: str) -> str:
    """What two payment references are compared by, wherever one enters (`payments record`,
    the payments import, `payments reverse`): blanks around it dropped and the letters A-Z
    folded to a-z, so `BANK-77 `, `bank-77` and `BANK-77` are one payment. Only A-Z: SQLite's
    lower() folds no other letter, and the rule is the same on SQLite and PostgreSQL. The
    stored reference keeps the spelling first given (stripped)."""
    return reference.strip().translate(_FOLD)


def reference_key_sql(session: Session) -> ColumnElement[str]:
    """`reference_key` of the stored `Payment.reference`, in SQL (trimmed, A-Z folded)."""
    trimmed = func.trim(Payment.reference)
    if session.get_bind().dialect.name == "postgresql":  # lower() there folds every letter
        return func.translate(trimmed, _UPPER, _UPPER.lower())
    return func.lower(trimmed)  # SQLite: A-Z only


class DuplicatePaymentError(ConflictError):
    """A payment whose reference is already recorded: it conflicts with the book (exit 4)."""


def payment_problems(
    amount: Decimal | None, currency: str | None, received_on: date | None, *, today: date
) -> list[tuple[str, str]]:
    """Why a payment cannot be accepted as given, as (field, message) pairs (`received_on`,
    `amount`); empty when it can. The one set of rules for a payment typed in (`payments
    record`) and a payment imported (the import names the line and column): it is not dated
    after `today` (the caller's clock), and its amount is within what riskdesk stores
    (`money.beyond_limit`), positive and no finer than its currency allows (refused, never
    rounded). A rule whose inputs are unknown (None) is skipped; the caller has refused
    those already."""
    problems: list[tuple[str, str]] = []
    if received_on is not None and received_on > today:
        problems.append(
            (
                "received_on",
                f"received on {received_on.isoformat()} is later than today "
                f"({today.isoformat()}): record a payment once it has been received",
            )
        )
    if amount is not None:
        too_large = beyond_limit(amount, currency)  # first: a huge exponent overflows the rest
        finer = None if currency is None else finer_than_currency(amount, currency)
        if too_large is not None:
            problems.append(("amount", too_large))
        elif finer is not None:
            problems.append(("amount", f"{finer}: give the amount exactly as received"))
        elif amount <= 0:
            problems.append(("amount", f"a payment must be positive, not {amount}"))
    return problems


def check_payment(amount: Decimal, currency: str, received_on: date, *, today: date) -> None:
    """Raise PaymentError naming every rule of `payment_problems` the payment breaks."""
    problems = payment_problems(amount, currency, received_on, today=today)
    if problems:
        raise PaymentError("; ".join(message for _field, message in problems))


def record_payment(
    session: Session,
    *,
    customer_id: int,
    reference: str,
    received_on: date,
    amount: Money,
    method: str | None = None,
    applies_to: Sequence[str] = (),
    actor: str = "system",
) -> Payment:
    """Record a payment received, apply it, and write a `payment.recorded` audit event.

    Refuses (changing nothing) an unknown customer (NotFoundError), a payment in another
    currency than the customer's, a non-positive amount, a reference already recorded (the
    same `reference_key`: blanks around it and the letter case of A-Z do not count;
    DuplicatePaymentError, a ConflictError), and
    named invoices that do not exist or belong to someone else (each named in the message).
    The reference is stored without the blanks around it.
    """
    reference = reference.strip()
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"unknown customer {customer_id!r}")
    if not isinstance(amount, Money):
        raise PaymentError(f"payment {reference!r}: amount must be Money, not {amount!r}")
    if amount.currency != customer.currency:
        raise PaymentError(
            f"payment {reference!r} is in {amount.currency} but customer {customer.name!r} "
            f"({customer.provider_customer_id}) is billed in {customer.currency}"
        )
    if amount.amount <= 0:
        raise PaymentError(f"payment {reference!r}: amount must be positive, got {amount}")
    too_large = beyond_limit(amount.amount, amount.currency)
    if too_large is not None:
        raise PaymentError(f"payment {reference!r}: {too_large}")
    if not reference or not reference.strip():
        raise PaymentError("payment reference must not be empty")
    if len(reference) > REFERENCE_LIMIT:
        raise PaymentError(f"payment reference {reference!r} is longer than {REFERENCE_LIMIT}")
    if _recorded(session, reference) is not None:
        raise DuplicatePaymentError(f"payment reference {reference!r} is already recorded")
    named = list(dict.fromkeys(str(n) for n in applies_to))
    if named:
        found = {
            inv.number: inv
            for inv in session.scalars(select(Invoice).where(Invoice.number.in_(named)))
        }
        for number in named:
            inv = found.get(number)
            if inv is None:
                raise NotFoundError(f"payment {reference!r} names unknown invoice {number!r}")
            if inv.customer_id != customer.id:
                raise PaymentError(
                    f"payment {reference!r} names invoice {number!r}, which belongs to "
                    f"another customer, not {customer.name!r}"
                )
            if inv.currency != amount.currency:
                raise PaymentError(
                    f"payment {reference!r} is in {amount.currency} but invoice {number!r} "
                    f"is in {inv.currency}"
                )
    payment = Payment(
        customer_id=customer.id,
        reference=reference,
        received_on=received_on,
        currency=amount.currency,
        amount=amount.amount,
        method=method,
        applies_to=named,
    )
    session.add(payment)
    session.flush()
    created = allocate(session, [customer.id])
    session.expire(payment, ["allocations"])
    audit.record(
        session,
        actor=actor,
        action="payment.recorded",
        subject_type="customer",
        subject_id=customer.id,
        data={
            "payment_id": payment.id,
            "reference": reference,
            "received_on": received_on.isoformat(),
            "amount": str(amount.amount),
            "currency": amount.currency,
            "method": method,
            "applies_to": named,
            "allocations_created": created,
        },
    )
    return payment


#: How many similar references an unknown payment reference names.
CANDIDATES_SHOWN = 5


@dataclass(frozen=True)
class Reversal:
    """A payment reversed: what it had paid (invoice number, amount) and what was re-applied."""

    payment_id: int
    customer_id: int
    reference: str
    amount: Money
    removed: list[tuple[str, Money]]
    allocations_created: int


def _recorded(session: Session, reference: str) -> Payment | None:
    """The payment recorded as `reference` (by `reference_key`): the one spelt exactly so
    first, else the one of the same key (the oldest, should rows recorded before the rule
    differ only in case)."""
    ref = reference.strip()
    exact = session.scalar(select(Payment).where(Payment.reference == ref))
    if exact is not None:
        return exact
    return session.scalar(
        select(Payment)
        .where(reference_key_sql(session) == reference_key(ref))
        .order_by(Payment.id)
        .limit(1)
    )


def find_payment(session: Session, reference: str) -> Payment:
    """The payment with `reference` (by `reference_key`: blanks around it and the letter
    case of A-Z do not count), or NotFoundError naming up to five similar references
    (containing it, case-insensitively)."""
    ref = reference.strip()
    payment = _recorded(session, ref)
    if payment is not None:
        return payment
    like = ref.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    similar = session.scalars(
        select(Payment.reference)
        .where(func.lower(Payment.reference).like(f"%{like}%", escape="\\"))
        .order_by(Payment.reference)
        .limit(CANDIDATES_SHOWN)
    ).all()
    hint = f"; similar references: {', '.join(repr(r) for r in similar)}" if similar else ""
    raise NotFoundError(f"unknown payment reference {ref!r}{hint}")


def reverse_payment(
    session: Session, *, reference: str, reason: str, by: str, at: datetime
) -> Reversal:
    """Reverse a payment (bounced, or recorded by mistake), in the caller's transaction.

    The payment row stays, marked with who reversed it, when and why; its allocations are
    removed (the `payment.reversed` audit event lists them), so the invoices it paid are open
    again for every day; other payments of the customer with money left are applied again
    (`allocate`). Its `settled_on` becomes its own received day, so the facts never count it
    as unapplied credit. Refuses an unknown reference (NotFoundError naming similar ones), a
    payment already reversed (ConflictError), a credit note (undone by its dispute, not
    here) and an empty reason or person.
    """
    if not reason or not reason.strip():
        raise PaymentError("a reversal needs a reason (--reason)")
    if not by or not by.strip():
        raise PaymentError("a reversal needs the person who reverses it (--by)")
    payment = find_payment(session, reference)
    if payment.reversed_at is not None:
        raise ConflictError(
            f"payment {payment.reference!r} is already reversed (on "
            f"{payment.reversed_at.date().isoformat()} by {payment.reversed_by}: "
            f"{payment.reversal_reason})"
        )
    if payment.method == "credit_note":
        raise PaymentError(
            f"payment {payment.reference!r} is a credit note of an upheld dispute; it is not "
            "a payment received and cannot be reversed"
        )
    lock_allocation(session)
    amount = Money(payment.amount, payment.currency)
    rows = session.execute(
        select(
            PaymentAllocation.id,
            PaymentAllocation.invoice_id,
            Invoice.number,
            PaymentAllocation.amount,
            PaymentAllocation.applied_on,
        )
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id == payment.id)
        .order_by(PaymentAllocation.id)
    ).all()
    removed = [(r.number, Money(r.amount, payment.currency)) for r in rows]
    invoice_ids = sorted({r.invoice_id for r in rows})
    session.execute(
        query("DELETE FROM payment_allocations WHERE payment_id = :id"), {"id": payment.id}
    )
    if invoice_ids:
        # Open again; refresh_settlement below recomputes those other payments still pay.
        session.execute(
            query("UPDATE invoices SET paid_micros = 0, settled_on = NULL WHERE id IN :ids", "ids"),
            {"ids": invoice_ids},
        )
    payment.reversed_at = at
    payment.reversed_by = by.strip()
    payment.reversal_reason = reason.strip()
    payment.applied = Decimal(0)
    payment.settled_on = payment.received_on
    session.flush()
    session.expire(payment, ["allocations"])
    refresh_settlement(session, [payment.customer_id])
    created = allocate(session, [payment.customer_id])
    audit.record(
        session,
        actor=by.strip(),
        action="payment.reversed",
        subject_type="customer",
        subject_id=payment.customer_id,
        data={
            "payment_id": payment.id,
            "reference": payment.reference,
            "received_on": payment.received_on.isoformat(),
            "amount": str(amount.amount),
            "currency": amount.currency,
            "reason": payment.reversal_reason,
            "allocations_removed": [
                {
                    "invoice": r.number,
                    "amount": str(Money(r.amount, payment.currency).amount),
                    "applied_on": r.applied_on.isoformat()
                    if hasattr(r.applied_on, "isoformat")
                    else str(r.applied_on),
                }
                for r in rows
            ],
            "allocations_created": created,
        },
    )
    return Reversal(payment.id, payment.customer_id, payment.reference, amount, removed, created)
