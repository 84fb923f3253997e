"""Recording and reversing a payment, and re-evaluating its customer at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from riskdesk.app.deps import Deps
from riskdesk.app.limits import check_fits
from riskdesk.app.outbox import ExecutionTotals, execute_due
from riskdesk.app.reevaluate import (
    Reevaluation,
    judge_now,
    owe_reevaluation,
    reevaluate,
    settle_pending,
)
from riskdesk.book.customers import find_customer
from riskdesk.book.payments import Reversal, check_payment
from riskdesk.book.payments import record_payment as _record
from riskdesk.book.payments import reverse_payment as _reverse
from riskdesk.collections.evaluate import Decision
from riskdesk.crashpoints import crashpoint
from riskdesk.db.engine import session_scope
from riskdesk.db.models import Payment
from riskdesk.errors import InvalidInputError, RiskdeskError
from riskdesk.money import Money, beyond_limit, check_currency, finer_than_currency, to_decimal


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


def exact_money(amount: str, currency: str, where: str = "") -> Money:
    """`amount` in `currency`, refused (never rounded) when finer than the currency's minor unit
    or larger than riskdesk stores (`where` names what the amount is of, for the message)."""
    code = currency.strip().upper()
    try:
        check_currency(code)
        value = to_decimal(amount.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"amount {amount!r} {currency!r}: {exc}") from None
    too_large = beyond_limit(value, code)  # first: a huge exponent overflows the check below
    if too_large is not None:
        raise InvalidInputError(f"{where}: {too_large}" if where else too_large)
    finer = finer_than_currency(value, code)
    if finer is not None:
        raise InvalidInputError(f"{finer}: give the amount exactly as received")
    try:
        return Money(value, code)
    except ArithmeticError:  # decimal Overflow / InvalidOperation: more digits than it holds
        raise InvalidInputError(f"amount {amount!r} {code}: too large to be an amount") from None


def record_payment(deps: Deps, request: PaymentRequest, *, actor: str) -> PaymentResult:
    """Record a payment and re-evaluate its customer as of today (reinstating if it qualifies).

    Everything that can be checked (amount, day, policy, and when executing the mail and
    provider settings) is checked before anything is written. The customer is judged on
    today's facts, also for a payment received on an earlier day.
    """
    today = deps.today()
    day = request.received_on or today
    money = exact_money(request.amount, request.currency, f"payment {request.reference!r}")
    check_payment(money.amount, money.currency, day, today=today)  # the import's rules too
    check_fits(request.reference, Payment.reference, "--reference")
    engine = deps.engine()
    policy = deps.policy(request.policy)
    with session_scope(engine) as session:  # an unknown customer before the settings
        customer_id = find_customer(session, request.customer).id
    if request.execute:
        deps.check_effects()
    settle_pending(deps, policy, actor=actor)  # what a killed command left owed, first
    with session_scope(engine) as session:
        payment = _record(
            session,
            customer_id=customer_id,
            reference=request.reference,
            received_on=day,
            amount=money,
            applies_to=request.invoices,
            actor=actor,
        )
        result = PaymentResult(payment.id, customer_id, request.reference)
        # Durable: should this command die after the commit, the next one judges the customer.
        owe_reevaluation(session, customer_id, cause=f"payment #{payment.id}", now=deps.now())
        crashpoint("payment.before_commit")
    crashpoint("payment.after_commit")
    recorded = (
        f"payment {request.reference!r} is recorded (payment #{result.payment_id}, "
        f"customer #{result.customer_id})"
    )
    step, later = "re-evaluating the customer", "the next collections run will re-evaluate it"
    try:
        report = judge_now(deps, policy, result.customer_id, actor=actor)
        result.transitions = list(report.transitions)
        result.actions_planned = report.enqueued
        if request.execute:
            step, later = "carrying out the planned actions", "the next run will carry them out"
            result.executed = execute_due(deps, actor="executor")
    except RiskdeskError as exc:
        raise PaymentRecordedError(f"{recorded}, but {step} failed: {exc}; {later}") from None
    return result


@dataclass(frozen=True)
class ReversalRequest:
    reference: str
    reason: str
    execute: bool = True
    policy: Path | None = None


@dataclass
class ReversalResult:
    reversal: Reversal
    followup: Reevaluation


def reverse_payment(deps: Deps, request: ReversalRequest, *, actor: str) -> ReversalResult:
    """Reverse a payment (bounced, recorded by mistake) and judge its customer again at once.

    `actor` is the person who reverses it (recorded on the payment and in the audit event).
    The payment stays, its allocations are removed and the customer's other payments
    re-applied; then the customer is re-evaluated as of today, as after `record_payment`, so
    one whose payment bounced goes back into collections. The policy (and with `execute` the
    mail and provider settings) is checked before anything is written.
    """
    if not request.reason.strip():
        raise InvalidInputError("a reversal needs a reason (--reason)")
    policy = deps.policy(request.policy)
    if request.execute:
        deps.check_effects()
    with session_scope(deps.engine()) as session:
        reversal = _reverse(
            session, reference=request.reference, reason=request.reason, by=actor, at=deps.now()
        )
        owe_reevaluation(
            session, reversal.customer_id, cause=f"reversal of {reversal.reference}", now=deps.now()
        )
    followup = reevaluate(
        deps,
        policy,
        reversal.customer_id,
        actor=actor,
        execute=request.execute,
        recorded=f"the reversal of payment {reversal.reference!r} is recorded",
    )
    return ReversalResult(reversal, followup)
