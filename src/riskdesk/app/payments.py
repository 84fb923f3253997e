"""Recording a payment, and re-evaluating its customer at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from riskdesk.app.deps import Deps
from riskdesk.app.outbox import ExecutionTotals, execute_due
from riskdesk.book.customers import find_customer
from riskdesk.book.payments import check_payment
from riskdesk.book.payments import record_payment as _record
from riskdesk.collections.evaluate import Decision
from riskdesk.collections.run import run_collections
from riskdesk.db.engine import session_scope
from riskdesk.errors import InvalidInputError, RiskdeskError
from riskdesk.money import Money, check_currency, finer_than_currency, to_decimal


@dataclass(frozen=True)
class PaymentRequest:
    customer: str
    amount: str
    currency: str
    reference: str
    received_on: date | None = None  # default today; never later than today
    invoices: tuple[str, ...] = ()
    execute: bool = True
    policy: Path | None = None


@dataclass
class PaymentResult:
    payment_id: int
    customer_id: int
    reference: str
    transitions: list[Decision] = field(default_factory=list)
    actions_planned: int = 0
    executed: ExecutionTotals | None = None


class PaymentRecordedError(RiskdeskError):
    """The payment is saved, but what had to follow it failed (says what will finish it)."""


def _amount(amount: str, currency: str) -> tuple[Decimal, str]:
    """The decimal `amount` and the known currency code `currency` names, or InvalidInputError."""
    code = currency.strip().upper()
    try:
        check_currency(code)
        value = to_decimal(amount.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"amount {amount!r} {currency!r}: {exc}") from None
    return value, code


def exact_money(amount: str, currency: str) -> Money:
    """`amount` in `currency`, refused (never rounded) when finer than the currency's minor unit."""
    value, code = _amount(amount, currency)
    finer = finer_than_currency(value, code)
    if finer is not None:
        raise InvalidInputError(f"{finer}: give the amount exactly as received")
    return Money(value, code)


def record_payment(deps: Deps, request: PaymentRequest, *, actor: str) -> PaymentResult:
    """Record a payment and re-evaluate its customer as of today (reinstating if it qualifies).

    Everything that can be checked (amount, day, policy, and when executing the mail and
    provider settings) is checked before anything is written. The customer is judged on
    today's facts, also for a payment received on an earlier day.
    """
    today = deps.today()
    day = request.received_on or today
    value, code = _amount(request.amount, request.currency)
    check_payment(value, code, day, today=today)  # the rules an imported payment meets too
    money = Money(value, code)
    engine = deps.engine()
    policy = deps.policy(request.policy)
    if request.execute:
        deps.check_effects()
    with session_scope(engine) as session:
        found = find_customer(session, request.customer)
        payment = _record(
            session,
            customer_id=found.id,
            reference=request.reference,
            received_on=day,
            amount=money,
            applies_to=request.invoices,
            actor=actor,
        )
        result = PaymentResult(payment.id, found.id, request.reference)
    recorded = (
        f"payment {request.reference!r} is recorded (payment #{result.payment_id}, "
        f"customer #{result.customer_id})"
    )
    step, later = "re-evaluating the customer", "the next collections run will re-evaluate it"
    try:
        report = run_collections(
            engine,
            policy,
            as_of=today,
            customer_ids=[result.customer_id],
            actor=actor,
            now=deps.now(),
        )
        result.transitions = list(report.transitions)
        result.actions_planned = report.enqueued
        if request.execute:
            step, later = "carrying out the planned actions", "the next run will carry them out"
            result.executed = execute_due(deps, actor="executor")
    except RiskdeskError as exc:
        raise PaymentRecordedError(f"{recorded}, but {step} failed: {exc}; {later}") from None
    return result
