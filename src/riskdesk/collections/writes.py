"""Writing what a collections run planned: outbox rows, the policy version, the new stages.

`outbox_rows` expands the planned actions into rows (suspensions and reactivations, one per
subscription in scope); `enqueue_rows` writes them at once, keyed so a re-run never enqueues
twice; `record_states` writes each transition's new stage and what it holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from riskdesk.collections.evaluate import Decision
from riskdesk.collections.plan import PlannedAction
from riskdesk.collections.policy import Policy
from riskdesk.collections.reading import subscriptions_in_scope
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.models import (
    ActionKind,
    ActionStatus,
    CollectionState,
    OutboxAction,
    PolicyVersion,
)

PER_SUBSCRIPTION = {ActionKind.SUSPEND_SUBSCRIPTION.value, ActionKind.REACTIVATE_SUBSCRIPTION.value}


def _in_scope(scope: dict[str, Any] | None, kind: str, offer: str) -> bool:
    if not scope or scope.get("all"):
        return True
    if "kind" in scope:
        return kind == scope["kind"]
    return offer in scope.get("offers", ())


class OutboxRow(NamedTuple):
    """One outbox row as planned (the columns a run sets; the rest start empty)."""

    idempotency_key: str
    kind: str
    customer_id: int
    subscription_id: int | None
    payload: dict[str, Any]
    status: str


_PENDING = ActionStatus.PENDING.value
AWAITING_APPROVAL = ActionStatus.AWAITING_APPROVAL.value


def outbox_rows(connection: Connection, actions: Sequence[PlannedAction]) -> list[OutboxRow]:
    """The planned actions as outbox rows; suspensions and reactivations, one per subscription.

    A reactivation is planned for every subscription in its scope: the executor lifts only
    the `non_payment` reason and reactivates only where no other reason remains.
    """
    subscriptions = subscriptions_in_scope(
        connection, {a.customer_id for a in actions if a.kind in PER_SUBSCRIPTION}
    )
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


SMALL_BATCH = 200  # outbox rows up to which PostgreSQL gets one plain INSERT

_OUTBOX_COLUMNS = (
    "idempotency_key",
    "kind",
    "customer_id",
    "subscription_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)


def enqueue_rows(session: Session, rows: Sequence[OutboxRow], now: datetime) -> int:
    """INSERT ... ON CONFLICT DO NOTHING for all rows at once; returns how many were new.

    Written by `bulk_insert` (executemany on SQLite, COPY on PostgreSQL), values in storage
    form: each payload serialised once (the rows of one action share it).
    """
    if not rows:
        return 0
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: riskdesk stores timezone-aware UTC")
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) <= SMALL_BATCH:
        # A few rows (one customer re-evaluated): one INSERT ... ON CONFLICT DO NOTHING is
        # cheaper than bulk_insert's staging table; it returns the rows inserted.
        stmt = (
            postgresql.insert(OutboxAction.__table__)
            .values(
                [
                    r._asdict()
                    | {"attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
                    for r in rows
                ]
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxAction.__table__.c.id)
        )
        return len(connection.execute(stmt).all())
    texts: dict[int, str] = {}
    dumps = json.dumps
    values = []
    append = values.append
    for key, kind, customer_id, subscription_id, payload, status in rows:
        encoded = texts.get(id(payload))
        if encoded is None:
            encoded = texts[id(payload)] = dumps(payload)
        append((key, kind, customer_id, subscription_id, encoded, status, 0, now, now, now))
    return bulk_insert(
        connection,
        OutboxAction.__table__,
        _OUTBOX_COLUMNS,
        values,
        ignore_conflicts_on="idempotency_key",
        conflicts_rare=True,  # runs take turns and a committed transition is not planned again
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
        bulk_insert(session.connection(), CollectionState.__table__, _STATE_COLUMNS, new)
