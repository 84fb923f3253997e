"""The facts a collections policy is written over: the published list, and how they are built.

`FACTS` is the documented schema: each condition in a policy (`when:`) may use these names and
nothing else, and the published policy document lists them with their meaning. Money facts are
amounts in the customer's own currency (`overdue_amount > 1000` is 1000 euros for a customer
invoiced in euros); a whole-number literal beside a money fact is read as a decimal.

`policy_facts` maps riskdesk's `CustomerFacts` (one row of `riskdesk.book.facts`), plus the
few things that are not in the book's facts query (tags, creation day, active promise), to one
row of CEL inputs. It is a plain function; a whole run calls it once per customer.

Grace days are applied by the evaluator, not the author: the row holds the raw days since the
oldest undisputed overdue invoice was due, and `riskdesk.collections.evaluate` subtracts the
policy's `grace_days` (never below 0) before the conditions see `days_past_due`. So with 3
grace days, an invoice due on 1 March is 7 days past due on 11 March, and a condition
`days_past_due >= 7` holds from that day.

Disputes: an invoice under dispute does not count as overdue while the dispute is open.
`days_past_due` and `overdue_amount` are those of undisputed invoices only. `CustomerFacts`
does not yet separate them; see `policy_facts` for what it uses until it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from riskdesk.book.facts import CustomerFacts
from riskdesk.money import Money
from riskdesk.rules import Fact, FactSchema, FactType

#: The published facts, in the order the policy document lists them.
FACTS: tuple[Fact, ...] = (
    Fact(
        "days_past_due",
        FactType.INT,
        "days since the due date of the oldest unpaid, undisputed invoice, counted from the "
        "end of the grace period (0 when nothing is overdue)",
    ),
    Fact(
        "overdue_amount",
        FactType.MONEY,
        "unpaid amount of undisputed invoices past their due date",
    ),
    Fact("open_balance", FactType.MONEY, "everything invoiced and not yet paid, due or not"),
    Fact("unpaid_invoice_count", FactType.INT, "number of invoices not fully paid"),
    Fact(
        "credit_limit",
        FactType.MONEY,
        "the customer's credit limit",
        optional=True,
    ),
    Fact(
        "exposure",
        FactType.MONEY,
        "open balance plus usage not yet invoiced plus open orders",
    ),
    Fact("unbilled_usage", FactType.MONEY, "usage consumed and not yet invoiced"),
    Fact("disputed_amount", FactType.MONEY, "unpaid amount of invoices under dispute"),
    Fact("tags", FactType.STRING_LIST, "labels on the customer account, e.g. 'enterprise'"),
    Fact("currency", FactType.STRING, "the currency the customer is invoiced in, e.g. 'EUR'"),
    Fact("customer_age_days", FactType.INT, "days since the customer account was opened"),
    Fact(
        "has_active_promise",
        FactType.BOOL,
        "the customer has promised to pay by a date that has not yet passed",
    ),
)

#: Keys of a facts row that are context, not CEL inputs.
CONTEXT_KEYS = ("customer_id", "promise_until", "days_since_due")


@cache
def fact_schema() -> FactSchema:
    return FactSchema(FACTS)


def published_facts() -> list[dict[str, str]]:
    """Name, type and meaning of every fact, for the policy document."""
    schema = fact_schema()
    out = []
    for name in schema.names:
        fact = schema[name]
        kind = "amount" if fact.type is FactType.MONEY else fact.type.value
        out.append({"name": name, "type": kind, "description": fact.description})
    return out


def policy_facts(
    customer_facts: CustomerFacts,
    *,
    tags: Iterable[str] = (),
    created_on: date | None = None,
    promise_until: date | None = None,
    as_of: date,
) -> dict[str, Any]:
    """One row of policy inputs for `customer_facts` as of `as_of`.

    `tags`: the customer's tags; `created_on`: the day the account was opened (None: age 0);
    `promise_until`: the date of the customer's active promise to pay, if any. The row also
    carries `customer_id` and `promise_until` (context, not CEL inputs). `days_past_due` is
    before grace; the evaluator applies the policy's grace days.
    """
    age = 0 if created_on is None else max(0, (as_of - created_on).days)
    return {
        "customer_id": customer_facts.customer_id,
        "promise_until": promise_until,
        # Both already leave disputed invoices out (riskdesk.book.facts): a disputed invoice
        # does not count as overdue while the dispute is open.
        "days_past_due": customer_facts.days_past_due,
        "overdue_amount": customer_facts.overdue_amount,
        "open_balance": customer_facts.open_balance,
        "unpaid_invoice_count": customer_facts.unpaid_invoice_count,
        "credit_limit": customer_facts.credit_limit,
        "exposure": customer_facts.exposure,
        "unbilled_usage": customer_facts.unbilled_usage,
        "disputed_amount": customer_facts.disputed_amount,
        "tags": tuple(sorted(set(tags))),
        "currency": customer_facts.currency,
        "customer_age_days": age,
        "has_active_promise": promise_until is not None and promise_until >= as_of,
    }


def amount_of(value: Any) -> Decimal:
    """The Decimal amount of a money fact (Money, Decimal or int)."""
    if isinstance(value, Money):
        return value.amount
    return Decimal(value)


def jsonable(row: dict[str, Any], memo: dict[int, Any] | None = None) -> dict[str, Any]:
    """A facts row as JSON values: Money as {amount, currency}, dates ISO.

    `memo` (by object id) lets a caller converting many rows convert each shared Money once
    (the facts query shares equal amounts between customers); the objects must outlive it.
    """
    out: dict[str, Any] = {}
    for key, value in row.items():
        kind = type(value)
        if kind in _PLAIN:
            out[key] = value
        elif kind is Money:
            converted = None if memo is None else memo.get(id(value))
            if converted is None:
                converted = {"amount": str(value.amount), "currency": value.currency}
                if memo is not None:
                    memo[id(value)] = converted
            out[key] = converted
        elif isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, tuple | list | set | frozenset):
            out[key] = list(value)
        else:
            out[key] = value
    return out


#: Values that are JSON as they are (checked by exact type first: a facts row is mostly these).
_PLAIN = frozenset({int, str, bool, float, type(None)})
