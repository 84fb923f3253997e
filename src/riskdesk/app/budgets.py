"""A customer's usage spending budget at the provider: read it, set it (kept in the book).

The budget is the provider's (`usagebudget`); the book keeps the last value read or set, with
the customer, and the sync refreshes it. Its amount is in the customer's billing currency
(the documented resource names none). The 21Vianet cloud's documentation lists no budget
API: there, reading or setting one is refused with the reason (`NotOfferedError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from riskdesk import audit
from riskdesk.app.deps import Deps
from riskdesk.app.payments import exact_money
from riskdesk.book.customers import find_customer
from riskdesk.db.engine import session_scope
from riskdesk.errors import InvalidInputError
from riskdesk.money import Money
from riskdesk.providers.errors import NotOfferedError, offered


@dataclass(frozen=True)
class BudgetView:
    customer_id: int
    customer: str
    provider_customer_id: str
    budget: Money | None  # in the book; None: none set at the provider when last read
    synced_at: datetime | None
    at_provider: Money | None = None  # read now (with `at_provider=True`)
    read_at_provider: bool = False

    @property
    def differs(self) -> bool:
        return self.read_at_provider and self.at_provider != self.budget


def show_budget(deps: Deps, customer: str, *, at_provider: bool = False) -> BudgetView:
    """The customer's budget as the book has it; with `at_provider`, also as the provider has
    it now (the book is not changed: the sync or `set_budget` does that)."""
    with session_scope(deps.engine()) as session:
        row = find_customer(session, customer)
        view = BudgetView(
            row.id, row.name, row.provider_customer_id, row.usage_budget_money,
            row.usage_budget_synced_at,
        )  # fmt: skip
        currency = row.currency
    if not at_provider:
        return view
    with deps.open_provider() as provider:
        if not offered("usage_budget", provider.cloud):
            raise NotOfferedError("usage_budget", provider.cloud, call="get_usage_budget")
        live = provider.get_usage_budget(view.provider_customer_id)
    amount = None if live.amount is None else Money(live.amount, currency)
    return BudgetView(
        view.customer_id, view.customer, view.provider_customer_id, view.budget,
        view.synced_at, amount, True,
    )  # fmt: skip


def set_budget(deps: Deps, customer: str, amount: str | None, *, actor: str) -> BudgetView:
    """Set (None: remove) the customer's budget at the provider, then keep what the provider
    answered in the book (audited `customer.usage_budget_set`, with the old value).

    The amount is in the customer's currency, exact to its minor unit, 0 or more.
    """
    with session_scope(deps.engine()) as session:
        row = find_customer(session, customer)
        tenant, currency, name = row.provider_customer_id, row.currency, row.name
    value: Decimal | None = None
    if amount is not None:
        money = exact_money(amount, currency, f"budget of {name}")
        if money.amount < 0:
            raise InvalidInputError(f"budget of {name}: {money} is negative; give 0 or more")
        value = money.amount
    with deps.open_provider() as provider:
        if not offered("usage_budget", provider.cloud):
            raise NotOfferedError("usage_budget", provider.cloud, call="update_usage_budget")
        answer = provider.update_usage_budget(tenant, value)
    now = deps.now()
    with session_scope(deps.engine()) as session:
        row = find_customer(session, tenant)
        old = row.usage_budget_money
        row.usage_budget = answer.amount
        row.usage_budget_currency = None if answer.amount is None else currency
        row.usage_budget_synced_at = now
        audit.record(
            session,
            actor=actor,
            action="customer.usage_budget_set",
            subject_type="customer",
            subject_id=row.id,
            data={
                "old": None if old is None else str(old.amount),
                "new": None
                if answer.amount is None
                else str(Money(answer.amount, currency).amount),
                "currency": currency,
            },
        )
        session.flush()
        return BudgetView(row.id, row.name, tenant, row.usage_budget_money, now)
