"""The what-if preview: day by day, the transitions if nobody paid (writes nothing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, select

from riskdesk.collections.plan import Plan, plan_transitions
from riskdesk.collections.policy import Policy
from riskdesk.collections.reading import evaluate
from riskdesk.collections.writes import AWAITING_APPROVAL, OutboxRow, outbox_rows
from riskdesk.db.models import ActionKind, CollectionState, Customer
from riskdesk.gcpause import gc_paused


@dataclass(frozen=True)
class PreviewEvent:
    """What would happen to one customer on one day if nobody paid.

    `held_by_blast_radius`: the customer would reach `stage` that day, but more customers
    than the policy's `max_suspensions_per_run` would be suspended at once, so a run would
    suspend none of them (and alert) until a person lets it proceed; the preview keeps such a
    customer at its previous stage and lists it once, on the first day it would be held.
    """

    day: date
    customer_id: int
    customer: str
    currency: str
    previous_stage: str | None
    stage: str | None
    notices: tuple[str, ...]
    suspends: int  # subscription suspensions planned
    requires_approval: bool
    overdue_amount: str
    days_past_due: int
    held_by_blast_radius: bool = False


def preview(engine: Engine, policy: Policy, *, start: date, days: int) -> list[PreviewEvent]:
    """Day by day from the day after `start`, the transitions if nobody paid (writes nothing).

    Stages are carried forward in memory from the book's current ones; the blast radius is
    applied per day as a run would (see `PreviewEvent.held_by_blast_radius`).
    """
    events: list[PreviewEvent] = []
    held_shown: set[tuple[int, str | None]] = set()
    with gc_paused(), engine.connect() as connection:
        names = {
            cid: (name, currency)
            for cid, name, currency in connection.execute(
                select(Customer.id, Customer.name, Customer.currency)
            )
        }
        stages: dict[int, str | None] = dict(
            connection.execute(select(CollectionState.customer_id, CollectionState.stage)).all()
        )

        def described(day: date, plan: Plan, held: bool) -> list[PreviewEvent]:
            per_customer: dict[int, list[OutboxRow]] = defaultdict(list)
            for row in outbox_rows(connection, plan.actions):
                per_customer[row.customer_id].append(row)
            out = []
            for d in plan.transitions:
                mine = per_customer.get(d.customer_id, [])
                name, currency = names.get(d.customer_id, (str(d.customer_id), ""))
                out.append(
                    PreviewEvent(
                        day=day,
                        customer_id=d.customer_id,
                        customer=name,
                        currency=currency,
                        previous_stage=d.previous_stage,
                        stage=d.stage,
                        notices=tuple(
                            r.payload.get("template", "")
                            for r in mine
                            if r.kind == ActionKind.NOTIFY_EMAIL.value
                        ),
                        suspends=sum(r.kind == ActionKind.SUSPEND_SUBSCRIPTION.value for r in mine),
                        requires_approval=any(r.status == AWAITING_APPROVAL for r in mine),
                        overdue_amount=str(d.facts.get("overdue_amount", "")),
                        days_past_due=int(d.facts.get("days_past_due", 0)),
                        held_by_blast_radius=held,
                    )
                )
            return out

        for offset in range(1, days + 1):
            day = start + timedelta(days=offset)
            decisions = evaluate(connection, policy, day, stages=stages)
            plan = plan_transitions(policy, [d for d in decisions if d.changed])
            events.extend(described(day, plan, held=False))
            for d in plan.transitions:
                stages[d.customer_id] = d.stage
            first_held = [d for d in plan.withheld if (d.customer_id, d.stage) not in held_shown]
            if first_held:
                # What those runs would do once let through, to show it (they stay held).
                would = plan_transitions(policy, first_held, max_suspensions=len(first_held))
                events.extend(described(day, would, held=True))
                held_shown.update((d.customer_id, d.stage) for d in first_held)
    return events
