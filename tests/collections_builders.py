"""Hand-built facts for the collections tests (as Kill Bill's TestCondition builds state)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from riskdesk.book.facts import CustomerFacts
from riskdesk.collections.facts import policy_facts
from riskdesk.collections.policy import load_policy, parse_policy
from riskdesk.money import Money

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "src" / "riskdesk" / "policies" / "standard.yaml"
AS_OF = date(2025, 6, 30)


def standard():
    return load_policy(STANDARD)


def policy_text(**changes) -> str:
    """The shipped policy's text with top-level `key: value` lines replaced."""
    text = STANDARD.read_text()
    for key, value in changes.items():
        lines = text.splitlines()
        lines = [f"{key}: {value}" if ln.startswith(f"{key}:") else ln for ln in lines]
        text = "\n".join(lines) + "\n"
    return text


def policy(**changes):
    return parse_policy(policy_text(**changes), source="standard.yaml")


def m(amount, currency="EUR") -> Money:
    return Money(str(amount), currency)


def customer_facts(
    customer_id=1,
    *,
    days_past_due=0,
    overdue="0",
    open_balance=None,
    disputed="0",
    unpaid=1,
    currency="EUR",
    as_of=AS_OF,
    limit=None,
    unbilled="0",
) -> CustomerFacts:
    # As the book computes them: `overdue` and `days_past_due` here describe every overdue
    # invoice; the facts leave the disputed part out of both (riskdesk.book.facts).
    balance = m(open_balance if open_balance is not None else overdue, currency)
    overdue_m = max(m(overdue, currency) - m(disputed, currency), Money.zero(currency))
    if not overdue_m:
        days_past_due = 0
    zero = Money.zero(currency)
    return CustomerFacts(
        as_of=as_of,
        customer_id=customer_id,
        provider_customer_id=f"tenant-{customer_id}",
        name=f"Customer {customer_id}",
        currency=currency,
        credit_limit=None if limit is None else m(limit, currency),
        open_balance=balance,
        overdue_amount=overdue_m,
        days_past_due=days_past_due,
        unpaid_invoice_count=unpaid,
        current=balance - overdue_m,
        days_1_30=zero,
        days_31_60=zero,
        days_61_90=zero,
        days_over_90=zero,
        disputed_amount=m(disputed, currency),
        unapplied_credit=zero,
        unbilled_usage=m(unbilled, currency),
        open_orders=zero,
        exposure=balance + m(unbilled, currency),
    )


def row(
    customer_id=1,
    *,
    days=0,
    overdue="100",
    open_balance=None,
    disputed="0",
    tags=(),
    promise_until=None,
    as_of=AS_OF,
    created_on=date(2024, 1, 1),
    **kw,
):
    """One policy facts row; `days` are raw days since the oldest overdue due date."""
    facts = customer_facts(
        customer_id,
        days_past_due=days,
        overdue=overdue if days else "0",
        open_balance=open_balance if open_balance is not None else overdue,
        disputed=disputed,
        as_of=as_of,
        **kw,
    )
    return policy_facts(
        facts, tags=tags, created_on=created_on, promise_until=promise_until, as_of=as_of
    )
