"""Writing what a collections run planned: outbox rows, the policy version, the new stages.

`outbox_rows` expands the planned actions into rows (suspensions and reactivations, one per
subscription in scope), which the run writes at once through `actions.outbox.enqueue_many`
(keyed so a re-run never enqueues twice); `record_states` writes each transition's new
stage and what it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from riskdesk.actions.outbox import OutboxRow
from riskdesk.collections.evaluate import Decision
from riskdesk.collections.plan import PlannedAction
from riskdesk.collections.policy import Policy
from riskdesk.collections.reading import subscriptions_in_scope
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.models import (
    ActionKind,
    ActionStatus,
    CollectionState,
    PolicyVersion,
)

PER_SUBSCRIPTION = {ActionKind.SUSPEND_SUBSCRIPTION.value, ActionKind.REACTIVATE_SUBSCRIPTION.value}


def _in_scope(scope: dict[str, Any] | None, kind: str, offer: str) -> bool:
    if not scope or scope.get("all"):
        return True
    if "kind" in scope:
        return kind == scope["kind"]
    return offer in scope.get("offers", ())


_PENDING = ActionStatus.PENDING.value
AWAITING_APPROVAL = ActionStatus.AWAITING_APPROVAL.value


def outbox_rows(
    connection: Connection,
    actions: Sequence[PlannedAction],
    subscriptions: dict[int, list[tuple[int, str, str]]] | None = None,
) -> list[OutboxRow]:
    """The planned actions as outbox rows; suspensions and reactivations, one per subscription.

    A reactivation is planned for every subscription in its scope: the executor lifts only
    the `non_payment` reason and reactivates only where no other reason remains.
    `subscriptions`: the live subscriptions of the customers concerned, when the caller has
    read them already (`live_subscriptions`).
    """
    if subscriptions is None:
        subscriptions = live_subscriptions(connection, actions)
    rows: list[OutboxRow] = []
    append = rows.append
    for action in actions:
        status = AWAITING_APPROVAL if action.requires_approval else _PENDING
        if action.kind not in PER_SUBSCRIPTION:
            append(
                OutboxRow(action.key, action.kind, action.customer_id, None, action.payload, status)
            )
            continue
        scope = action.payload.get("scope")
        keep = action.payload.get("keep") or ()
        for sid, kind, offer in subscriptions.get(action.customer_id, ()):
            if _in_scope(scope, kind, offer) and not any(_in_scope(k, kind, offer) for k in keep):
                append(
                    OutboxRow(
                        f"{action.key}:{sid}",
                        action.kind,
                        action.customer_id,
                        sid,
                        action.payload,
                        status,
                    )
                )
    return rows


def live_subscriptions(
    connection: Connection, actions: Sequence[PlannedAction]
) -> dict[int, list[tuple[int, str, str]]]:
    """(id, kind, offer id) of the live subscriptions of the customers whose suspensions or
    reactivations are planned: what `outbox_rows` expands and the notices name."""
    return subscriptions_in_scope(
        connection, {a.customer_id for a in actions if a.kind in PER_SUBSCRIPTION}
    )


def record_policy(session: Session, policy: Policy, moment: datetime) -> None:
    if session.get(PolicyVersion, policy.version) is None:
        session.add(
            PolicyVersion(
                version=policy.version,
                name=policy.name,
                content=policy.text,
                loaded_at=moment,
            )
        )
        session.flush()


_STATE_COLUMNS = (
    "customer_id",
    "stage",
    "entered_on",
    "policy_version",
    "orders_blocked",
    "subscriptions_suspended",
    "transitions",
    "transition_key",
    "updated_at",
)


def record_states(
    session: Session,
    policy: Policy,
    transitions: Sequence[Decision],
    moment: datetime,
    keys: dict[int, str],
    recorded: dict[int, int],
) -> None:
    """Each transition's new stage, its key and count, and what it holds: the order block
    takes effect here (not via the outbox); `subscriptions_suspended` lets the executor tell
    a suspension still wanted from one the customer has since paid its way out of."""
    if not transitions:
        return
    ids = [d.customer_id for d in transitions if d.customer_id in recorded]
    existing = {
        s.customer_id: s
        for start in range(0, len(ids), 5000)
        for s in session.scalars(
            select(CollectionState).where(
                CollectionState.customer_id.in_(ids[start : start + 5000])
            )
        )
    }
    new: list[tuple[Any, ...]] = []
    version = policy.version
    holds = policy.stage_table().holds
    for d in transitions:
        blocked, suspended = holds.get(d.stage, (False, False))
        key = keys[id(d)]
        state = existing.get(d.customer_id)
        if state is None:
            # New states as plain rows, inserted at once below (not one ORM object each).
            new.append(
                (d.customer_id, d.stage, d.as_of, version, blocked, suspended, 1, key, moment)
            )
        else:
            state.stage = d.stage
            state.entered_on = d.as_of
            state.policy_version = version
            state.orders_blocked = blocked
            state.subscriptions_suspended = suspended
            state.transitions = state.transitions + 1
            state.transition_key = key
            state.updated_at = moment
    session.flush()
    if new:
        bulk_insert(
            session.connection(), cast(Table, CollectionState.__table__), _STATE_COLUMNS, new
        )
