"""Cancelling the earlier collections actions a run's new transitions make stale."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.collections.evaluate import Decision
from riskdesk.collections.policy import Policy
from riskdesk.collections.reading import WHOLE_BOOK_FROM
from riskdesk.collections.staleness import superseded
from riskdesk.db.models import ActionKind, ActionStatus, OutboxAction

_WAITING = frozenset({ActionStatus.PENDING.value, ActionStatus.AWAITING_APPROVAL.value})
_SUPERSEDABLE = frozenset(
    {
        ActionKind.NOTIFY_EMAIL.value,
        ActionKind.SUSPEND_SUBSCRIPTION.value,
        ActionKind.REACTIVATE_SUBSCRIPTION.value,
        ActionKind.OPEN_REVIEW_CASE.value,
    }
)


def cancel_superseded(
    session: Session,
    policy: Policy,
    transitions: Sequence[Decision],
    keys: dict[int, str],
    recorded: dict[int, int],
    moment: datetime,
) -> list[audit.NewEvent]:
    """Cancel earlier collections actions that the new transitions make stale.

    A notice for a stage the customer has left, a suspension waiting (for approval, or for a
    retry) after the customer paid, a reactivation after it is held again: each would act
    against a state it was not planned for (`collections.staleness.superseded`, which the
    executor also checks). Only customers with an earlier state can have such actions.
    """
    moved = {d.customer_id: d for d in transitions if d.customer_id in recorded}
    if not moved:
        return []
    table = policy.stage_table()
    holds = table.holds
    query = select(
        OutboxAction.id,
        OutboxAction.customer_id,
        OutboxAction.kind,
        OutboxAction.status,
        OutboxAction.idempotency_key,
        OutboxAction.subscription_id,
        OutboxAction.payload,
    )
    if len(moved) <= WHOLE_BOOK_FROM:
        # By customer only (a handful of rows each): a status condition here lets the planner
        # walk the (status, next_attempt_at) index over every pending action of the book.
        query = query.where(OutboxAction.customer_id.in_(sorted(moved)))
    else:
        query = query.where(OutboxAction.status.in_(sorted(_WAITING)))
    stale: dict[str, list[int]] = defaultdict(list)
    described: dict[int, audit.NewEvent] = {}
    for action_id, customer_id, kind, status, key, subscription_id, payload in session.execute(
        query
    ):
        d = moved.get(customer_id)
        if d is None or status not in _WAITING or kind not in _SUPERSEDABLE:
            continue
        action_stage = (payload or {}).get("stage")
        scope = (payload or {}).get("scope")
        scopes_now = [a.scope for a in table.suspend_actions.get(d.stage, ())]
        why = superseded(
            kind,
            payload,
            stage=d.stage,
            subscriptions_suspended=holds.get(d.stage, (False, False))[1],
            transition_key=keys[id(d)],
            left_stage=table.severity.get(d.stage, 0) < table.severity.get(action_stage, 0),
            scope_held=None if scope is None else scope in scopes_now,
        )
        if why is None:
            continue
        stale[why].append(action_id)
        described[action_id] = audit.NewEvent(
            "action.cancelled",
            "customer",
            customer_id,
            {
                "action_id": action_id,
                "kind": kind,
                "key": key,
                "subscription_id": subscription_id,
                "reason": why,
            },
        )
    cancelled: list[int] = []
    for why, ids in stale.items():
        for start in range(0, len(ids), 5000):
            # Only rows still waiting: an executor may have claimed one since it was read.
            cancelled += session.scalars(
                update(OutboxAction)
                .where(
                    OutboxAction.id.in_(ids[start : start + 5000]),
                    OutboxAction.status.in_(sorted(_WAITING)),
                )
                .values(status=ActionStatus.CANCELLED.value, last_error=why, updated_at=moment)
                .returning(OutboxAction.id)
                # No outbox object is loaded in this session: nothing to bring up to date.
                .execution_options(synchronize_session=False)
            ).all()
    return [described[i] for i in sorted(cancelled)]
