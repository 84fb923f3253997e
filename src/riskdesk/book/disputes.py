"""Invoice disputes: opening one, and resolving it upheld or rejected.

While a dispute is open the invoice is marked `disputed`, and the facts query leaves it out
of what is overdue (it stays in the open balance and the aging). Each dispute is a row of
`invoice_disputes` with its reason and who recorded it.

- An invoice with nothing left open (paid, or credited by an earlier upheld dispute) cannot be
  disputed; an invoice already under dispute cannot be disputed again.
- Rejected: the invoice stands; it is no longer disputed, so it counts as overdue again.
- Upheld: the customer was right. What a credit controller does then is issue a credit note for
  what is still open, so the invoice is no longer owed. riskdesk records the credit note as a
  `payments` row of method `credit_note` (reference `credit-note:<invoice>:<dispute id>`),
  applied to that invoice on the day of the resolution: the invoice is settled that day, its
  open balance is zero from then on, and any earlier day still shows what was open then. Money
  the customer paid on it before the dispute stays paid (a refund is not riskdesk's to make).

Every change is audited in the caller's transaction. Resolving an invoice that is not disputed
is a conflict. An invoice marked disputed without a dispute row (imported, or the demo's) gets
one when it is resolved, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.book.payments import allocate
from riskdesk.db.models import Customer, DisputeOutcome, Invoice, InvoiceDispute, Payment
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.money import Money

#: The `payments.method` of a credit note issued for an upheld dispute.
CREDIT_NOTE = "credit_note"

#: The reason recorded for a dispute riskdesk found marked on the invoice but never opened.
UNRECORDED_REASON = "marked disputed before riskdesk recorded disputes (imported or demo book)"


@dataclass(frozen=True)
class DisputeChange:
    """What opening or resolving a dispute did to the invoice."""

    dispute_id: int
    invoice: str
    customer_id: int
    customer: str
    open_amount: Money  # open on the invoice before the change
    outcome: DisputeOutcome | None  # None: the dispute was opened
    credited: Money | None = None  # upheld: the credit note's amount
    credit_note: str | None = None  # upheld with something open: the credit note's reference


def find_invoice(session: Session, number: str, *, lock: bool = False) -> Invoice:
    """The invoice numbered `number` (its number as invoiced), else NotFoundError."""
    wanted = number.strip()
    query = select(Invoice).where(Invoice.number == wanted)
    found = session.scalars(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFoundError(f"unknown invoice {wanted!r}: no invoice has that number")
    return found


def _label(invoice: Invoice, customer: Customer) -> str:
    return f"invoice {invoice.number} of customer {customer.name!r} (#{customer.id})"


def _open_of(invoice: Invoice) -> Decimal:
    """What is still open on the invoice (total less every allocation, as kept by allocate)."""
    return invoice.total - (invoice.paid or Decimal(0))


def _open_dispute_row(session: Session, invoice: Invoice) -> InvoiceDispute | None:
    return session.scalars(
        select(InvoiceDispute).where(
            InvoiceDispute.invoice_id == invoice.id, InvoiceDispute.outcome.is_(None)
        )
    ).first()


def open_dispute(
    session: Session, number: str, *, reason: str, actor: str, now: datetime
) -> DisputeChange:
    """Mark invoice `number` disputed for `reason` and record who did it (audited)."""
    why = (reason or "").strip()
    if not why:
        raise InvalidInputError(
            f"dispute of invoice {number.strip()!r}: a reason is required (what the customer "
            "disputes)"
        )
    invoice = find_invoice(session, number, lock=True)
    customer = session.get_one(Customer, invoice.customer_id)
    label = _label(invoice, customer)
    if invoice.disputed:
        row = _open_dispute_row(session, invoice)
        since = f" since {row.opened_at:%Y-%m-%d}, recorded by {row.opened_by}" if row else ""
        raise ConflictError(f"{label} is already disputed{since}; resolve that dispute first")
    left = _open_of(invoice)
    if left <= 0:
        settled = f" (settled on {invoice.settled_on})" if invoice.settled_on else ""
        raise ConflictError(f"{label} is paid in full{settled}: nothing is left open to dispute")
    dispute = InvoiceDispute(
        invoice_id=invoice.id,
        customer_id=customer.id,
        reason=why,
        opened_at=now,
        opened_by=actor,
    )
    session.add(dispute)
    invoice.disputed = True
    session.flush()
    open_money = Money(left, invoice.currency)
    audit.record(
        session,
        actor=actor,
        action="invoice.disputed",
        subject_type="customer",
        subject_id=customer.id,
        data={
            "dispute_id": dispute.id,
            "invoice": invoice.number,
            "reason": why,
            "open_amount": str(open_money.amount),
            "currency": invoice.currency,
        },
        occurred_at=now,
    )
    return DisputeChange(dispute.id, invoice.number, customer.id, customer.name, open_money, None)


def resolve_dispute(
    session: Session,
    number: str,
    *,
    outcome: DisputeOutcome,
    note: str | None,
    actor: str,
    now: datetime,
    today: date,
) -> DisputeChange:
    """Resolve the open dispute of invoice `number` (see the module for what each outcome does)."""
    outcome = DisputeOutcome(outcome)
    invoice = find_invoice(session, number, lock=True)
    customer = session.get_one(Customer, invoice.customer_id)
    label = _label(invoice, customer)
    dispute = _open_dispute_row(session, invoice)
    if not invoice.disputed:
        last = session.scalars(
            select(InvoiceDispute)
            .where(InvoiceDispute.invoice_id == invoice.id)
            .order_by(InvoiceDispute.id.desc())
        ).first()
        before = (
            f"; its last dispute was {last.outcome} on {last.resolved_at:%Y-%m-%d} by "
            f"{last.resolved_by}"
            if last is not None and last.resolved_at is not None
            else ""
        )
        raise ConflictError(f"{label} is not disputed: there is no dispute to resolve{before}")
    if dispute is None:
        dispute = InvoiceDispute(
            invoice_id=invoice.id,
            customer_id=customer.id,
            reason=UNRECORDED_REASON,
            opened_at=now,
            opened_by="unknown",
        )
        session.add(dispute)
        session.flush()
    credited: Money | None = None
    reference: str | None = None
    if outcome is DisputeOutcome.UPHELD:
        # Allocating first takes the allocation lock (PostgreSQL) and applies anything still
        # unapplied, so the open amount read next is final for this transaction.
        allocate(session, [customer.id])
        session.refresh(invoice)
    left = _open_of(invoice)
    if outcome is DisputeOutcome.UPHELD:
        credited = Money(max(left, Decimal(0)), invoice.currency)
        if left > 0:
            reference = f"credit-note:{invoice.number}:{dispute.id}"
            credit = Payment(
                customer_id=customer.id,
                reference=reference,
                received_on=max(today, invoice.issued_on),
                currency=invoice.currency,
                amount=left,
                method=CREDIT_NOTE,
                applies_to=[invoice.number],
            )
            session.add(credit)
            session.flush()
            allocate(session, [customer.id])
            dispute.credit_payment_id = credit.id
        dispute.credited = credited.amount
    invoice.disputed = False
    dispute.outcome = outcome.value
    dispute.resolved_at = now
    dispute.resolved_by = actor
    dispute.resolution_note = (note or "").strip() or None
    session.flush()
    open_money = Money(left, invoice.currency)
    audit.record(
        session,
        actor=actor,
        action=f"invoice.dispute_{outcome.value}",
        subject_type="customer",
        subject_id=customer.id,
        data={
            "dispute_id": dispute.id,
            "invoice": invoice.number,
            "outcome": outcome.value,
            "note": dispute.resolution_note,
            "open_amount": str(open_money.amount),
            "currency": invoice.currency,
            "credited": None if credited is None else str(credited.amount),
            "credit_note": reference,
        },
        occurred_at=now,
    )
    return DisputeChange(
        dispute.id,
        invoice.number,
        customer.id,
        customer.name,
        open_money,
        outcome,
        credited,
        reference,
    )
