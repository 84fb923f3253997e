"""Reading what a collections run decides from: facts, context, current stages, subscriptions.

Everything here only reads the book (one set-based query per kind of fact, never one per
customer); `evaluate` turns it into every customer's decision through the pure evaluator.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Text, select, type_coerce

from riskdesk.book.facts import customer_facts
from riskdesk.collections.evaluate import Decision, decide_many
from riskdesk.collections.facts import policy_facts
from riskdesk.collections.policy import Policy
from riskdesk.db.models import (
    CollectionState,
    Customer,
    PromiseStatus,
    PromiseToPay,
    Subscription,
)
from riskdesk.errors import ConflictError
from riskdesk.gcpause import gc_paused


def _customer_context(
    connection: Connection, as_of: date, customer_ids: Sequence[int] | None
) -> tuple[dict[int, tuple[list[str], date | None]], dict[int, str | None], dict[int, date]]:
    """(tags and created_on, current stage, latest active promise date) per customer."""
    # Tags as the stored text (most customers share a few lists): parsed once per distinct
    # text below, not once per customer by the JSON type.
    customers = select(
        Customer.id, type_coerce(Customer.tags, Text), type_coerce(Customer.created_on, Text)
    )
    states = select(CollectionState.customer_id, CollectionState.stage)
    promises = select(PromiseToPay.customer_id, PromiseToPay.due_on).where(
        PromiseToPay.status == PromiseStatus.ACTIVE.value, PromiseToPay.promised_on <= as_of
    )
    if customer_ids is not None:
        customers = customers.where(Customer.id.in_(customer_ids))
        states = states.where(CollectionState.customer_id.in_(customer_ids))
        promises = promises.where(PromiseToPay.customer_id.in_(customer_ids))
    parsed: dict[str, Any] = {}

    def tags_of(raw: Any) -> list[str]:
        if isinstance(raw, str):  # the driver returns JSON as text (SQLite)
            value = parsed.get(raw)
            if value is None:
                value = parsed[raw] = json.loads(raw)
            raw = value
        return list(raw or [])

    days: dict[Any, date | None] = {None: None}

    def day_of(raw: Any) -> date | None:
        # SQLite returns the stored ISO text (parsed once per distinct day here, not by the
        # Date type's regular expression per row); PostgreSQL a date.
        value = days.get(raw)
        if value is None and raw is not None:
            value = days[raw] = raw if isinstance(raw, date) else date.fromisoformat(raw)
        return value

    info = {
        cid: (tags_of(raw), day_of(created)) for cid, raw, created in connection.execute(customers)
    }
    current = dict(connection.execute(states).all())
    promise_until: dict[int, date] = {}
    for cid, due_on in connection.execute(promises):
        if cid not in promise_until or due_on > promise_until[cid]:
            promise_until[cid] = due_on
    return info, current, promise_until


class UnknownStageError(ConflictError):
    """Customers are in stages the policy does not have (renamed or removed)."""


def _check_stages_known(policy: Policy, current: dict[int, str | None]) -> None:
    """Refuse a policy that dropped a stage customers are in.

    Deciding them would have to guess what the missing stage held: send its notices again,
    or lift (or not) what it suspended. A person decides instead, before anything runs.
    """
    known = policy.stage_table().severity
    missing: dict[str, int] = {}
    for stage in current.values():
        if stage not in known:
            missing[cast(str, stage)] = missing.get(cast(str, stage), 0) + 1
    if missing:
        listed = ", ".join(
            f"'{name}' ({count:,} customers)" for name, count in sorted(missing.items())
        )
        raise UnknownStageError(
            f"policy {policy.source} has no stage {listed} that customers are in; nothing "
            "was decided. Stages are matched by name: keep the stage (its name, and what it "
            "holds) in the policy as long as customers are in it."
        )


def evaluate(
    connection: Connection,
    policy: Policy,
    as_of: date,
    customer_ids: Sequence[int] | None = None,
    *,
    stages: dict[int, str | None] | None = None,
) -> list[Decision]:
    """Every customer's decision as of `as_of` (pure apart from reading the book).

    `stages` overrides the current stages read from the book (the what-if preview carries
    its own from day to day).
    """
    with gc_paused():  # a whole-book pass: see riskdesk.gcpause
        facts = customer_facts(connection, as_of, customer_ids)
        info, current, promise_until = _customer_context(connection, as_of, customer_ids)
        if stages is not None:
            current = stages
        _check_stages_known(policy, current)
        rows = [
            policy_facts(
                f,
                tags=info.get(f.customer_id, ([], None))[0],
                created_on=info.get(f.customer_id, ([], None))[1],
                promise_until=promise_until.get(f.customer_id),
                as_of=as_of,
            )
            for f in facts
        ]
        return decide_many(policy, rows, current, as_of)


#: Customers from which reading every live subscription and filtering here is cheaper than a
#: list of ids in the statement (a first run over the whole book).
WHOLE_BOOK_FROM = 2000


def subscriptions_in_scope(
    connection: Connection, customer_ids: set[int]
) -> dict[int, list[tuple[int, str, str]]]:
    """(id, kind, offer id) of each customer's live subscriptions."""
    found: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    if not customer_ids:
        return found
    query = select(
        Subscription.customer_id, Subscription.id, Subscription.kind, Subscription.offer_id
    ).where(Subscription.provider_status.not_in(("deleted", "expired", "disabled")))
    if len(customer_ids) <= WHOLE_BOOK_FROM:
        query = query.where(Subscription.customer_id.in_(sorted(customer_ids)))
    for cid, sid, kind, offer in connection.execute(query):
        if cid in customer_ids:
            found[cid].append((sid, kind, offer))
    return found


def recorded_transitions(connection: Connection, customer_ids: set[int]) -> dict[int, int]:
    """How many stage changes each of these customers has recorded (customers with a state)."""
    if not customer_ids:
        return {}
    query = select(CollectionState.customer_id, CollectionState.transitions)
    if len(customer_ids) <= WHOLE_BOOK_FROM:
        query = query.where(CollectionState.customer_id.in_(sorted(customer_ids)))
    return {cid: n for cid, n in connection.execute(query) if cid in customer_ids}
