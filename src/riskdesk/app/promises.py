"""Promises to pay: add, list, cancel; the customer re-evaluated at once after a change.

A promise in force holds the customer's collections escalation (and, when the policy says so,
lifts a suspension) from the moment it is recorded: the use case judges the customer again
right after committing it (`app.reevaluate`), and again after a cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from riskdesk.app.deps import Deps
from riskdesk.app.payments import exact_money
from riskdesk.app.reevaluate import Reevaluation, owe_reevaluation, reevaluate
from riskdesk.book import promises as book
from riskdesk.book.customers import find_customer
from riskdesk.book.promises import PromiseView
from riskdesk.db.engine import session_scope
from riskdesk.db.models import PromiseStatus
from riskdesk.errors import InvalidInputError
from riskdesk.money import Money


@dataclass(frozen=True)
class PromiseRequest:
    customer: str  # id, tenant id, domain or exact name
    amount: str  # "1200.00 EUR" (or "1200.00": the customer's currency)
    by_date: date
    note: str | None = None
    execute: bool = True
    policy: Path | None = None


@dataclass(frozen=True)
class PromiseResult:
    promise_id: int
    customer_id: int
    customer: str
    amount: Money
    by_date: date
    followed: Reevaluation


def parse_amount(text: str, default_currency: str) -> Money:
    """ "1200.00 EUR", "EUR 1200.00" or "1200.00" (in `default_currency`), exactly."""
    parts = text.split()
    codes = [p for p in parts if p.isalpha()]
    numbers = [p for p in parts if not p.isalpha()]
    if len(numbers) != 1 or len(codes) > 1:
        raise InvalidInputError(
            f"amount {text.strip()!r}: give a number and a currency code, e.g. '1200.00 EUR'"
        )
    return exact_money(numbers[0], codes[0] if codes else default_currency)


def add_promise(deps: Deps, request: PromiseRequest, *, actor: str) -> PromiseResult:
    """Record a customer's promise to pay, then judge the customer again at once."""
    engine = deps.engine()
    loaded = deps.policy(request.policy)
    if request.execute:
        deps.check_effects()
    with session_scope(engine) as session:
        customer = find_customer(session, request.customer)
        amount = parse_amount(request.amount, customer.currency)
        promise = book.add_promise(
            session,
            customer,
            amount=amount,
            by_date=request.by_date,
            note=request.note,
            actor=actor,
            now=deps.now(),
            today=deps.today(),
        )
        ids = (promise.id, customer.id, customer.name)
        owe_reevaluation(session, customer.id, cause=f"promise #{promise.id}", now=deps.now())
    followed = reevaluate(
        deps,
        loaded,
        ids[1],
        actor=actor,
        execute=request.execute,
        recorded=f"promise #{ids[0]} is recorded",
    )
    return PromiseResult(ids[0], ids[1], ids[2], amount, request.by_date, followed)


def list_promises(
    deps: Deps, *, customer: str | None = None, status: PromiseStatus | None = None
) -> list[PromiseView]:
    """Promises, newest first: one customer's or everyone's, one status or all (None)."""
    with session_scope(deps.engine()) as session:
        customer_id = find_customer(session, customer).id if customer else None
        return book.list_promises(
            session,
            today=deps.today(),
            customer_id=customer_id,
            statuses=None if status is None else [status],
        )


@dataclass(frozen=True)
class CancelResult:
    promise_id: int
    customer_id: int
    followed: Reevaluation


def cancel_promise(
    deps: Deps,
    promise_id: int,
    *,
    reason: str | None = None,
    actor: str,
    execute: bool = True,
    policy: Path | None = None,
) -> CancelResult:
    """Cancel an active promise; the customer is judged again at once (escalation resumes)."""
    engine = deps.engine()
    loaded = deps.policy(policy)
    if execute:
        deps.check_effects()
    with session_scope(engine) as session:
        promise = book.cancel_promise(
            session, promise_id, reason=reason, actor=actor, now=deps.now()
        )
        customer_id = promise.customer_id
        owe_reevaluation(session, customer_id, cause=f"promise #{promise_id}", now=deps.now())
    followed = reevaluate(
        deps,
        loaded,
        customer_id,
        actor=actor,
        execute=execute,
        recorded=f"promise #{promise_id} is cancelled",
    )
    return CancelResult(promise_id, customer_id, followed)
