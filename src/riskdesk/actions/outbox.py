"""The outbox: intended actions written in the transaction that decided them.

A decision (the collections planner, a fraud rule, a person) calls `enqueue` inside its own
transaction, so the action exists if and only if the decision committed. The idempotency key
names the decision (a collections suspension:
``collections:<version>:<customer>:<k>:<stage>:<day>:<n>:<subscription>``, `k` counting the
customer's stage changes), so deciding the same thing twice enqueues once. The executor
(`riskdesk.actions.executor`) does the work after commit.

Status flow::

    awaiting_approval --approve--> pending --claim--> in_progress --> done
            |                         ^                    |    \\--> failed --retry--> pending
            +------cancel-----+       +--transient error---+
                              v
                          cancelled   (pending can be cancelled too)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Executable, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.actions.payloads import ActionPayload
from riskdesk.actions.registry import check_payload
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.models import ActionKind, ActionStatus, AuditEvent, OutboxAction
from riskdesk.errors import ConflictError, NotFoundError


class ActionStateError(ConflictError):
    """An action is not in a status that allows what was asked (approve a done action ...)."""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def enqueue(
    session: Session,
    *,
    key: str,
    kind: ActionKind | str,
    customer_id: int,
    subscription_id: int | None = None,
    payload: dict[str, Any],
    requires_approval: bool = False,
    now: datetime | None = None,
    models: Mapping[str, type[ActionPayload]] | None = None,
) -> OutboxAction | None:
    """Add an action in the caller's transaction; a key already present adds nothing.

    Returns the action holding `key`: the new one, or the one enqueued before (whatever its
    status: a key once used is never reused, even after the action was cancelled or failed).
    None only if a concurrent transaction holding the same key rolled back between our insert
    and our read, which a caller can treat as "not enqueued, decide again".

    The payload is checked against its kind's model (`models`, default the standard ones):
    a payload that does not fit raises InvalidInputError naming the kind and the field.
    """
    kind = ActionKind(kind).value
    check_payload(kind, payload, models)
    moment = _now(now)
    values = {
        "idempotency_key": key,
        "kind": kind,
        "customer_id": customer_id,
        "subscription_id": subscription_id,
        "payload": payload,
        "status": (
            ActionStatus.AWAITING_APPROVAL if requires_approval else ActionStatus.PENDING
        ).value,
        "attempts": 0,
        "next_attempt_at": moment,
        "created_at": moment,
        "updated_at": moment,
    }
    name = session.get_bind().dialect.name
    stmt: Executable
    if name == "postgresql":
        stmt = (
            postgresql.insert(OutboxAction)
            .values(values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
    elif name == "sqlite":
        stmt = (
            sqlite.insert(OutboxAction)
            .values(values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
    else:  # pragma: no cover - riskdesk supports the two above
        stmt = insert(OutboxAction).values(values)
    session.execute(stmt)
    return session.scalars(
        select(OutboxAction)
        .where(OutboxAction.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).first()


class OutboxRow(NamedTuple):
    """One outbox row to enqueue in bulk (the columns a decider sets; the rest start empty)."""

    idempotency_key: str
    kind: str
    customer_id: int
    subscription_id: int | None
    payload: dict[str, Any]
    status: str


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


def enqueue_many(
    session: Session,
    rows: Sequence[OutboxRow],
    now: datetime,
    models: Mapping[str, type[ActionPayload]] | None = None,
) -> int:
    """`enqueue` for many rows at once (INSERT ... ON CONFLICT DO NOTHING); returns how many
    were new. The same keys, states and payload checks as `enqueue`, written by `bulk_insert`
    (executemany on SQLite, COPY on PostgreSQL): each distinct payload object is checked and
    serialised once (the rows of one decision share it).
    """
    if not rows:
        return 0
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: riskdesk stores timezone-aware UTC")
    texts: dict[int, str] = {}
    dumps = json.dumps
    for row in rows:
        if id(row.payload) not in texts:
            check_payload(ActionKind(row.kind).value, row.payload, models)
            texts[id(row.payload)] = dumps(row.payload)
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) <= SMALL_BATCH:
        # A few rows (one customer re-evaluated): one INSERT ... ON CONFLICT DO NOTHING is
        # cheaper than bulk_insert's staging table; it returns the rows inserted.
        stmt = (
            postgresql.insert(cast(Table, OutboxAction.__table__))
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
        return len(session.connection().execute(stmt).all())
    values = [
        (key, kind, customer_id, subscription_id, texts[id(payload)], status, 0, now, now, now)
        for key, kind, customer_id, subscription_id, payload, status in rows
    ]
    return bulk_insert(
        connection,
        cast(Table, OutboxAction.__table__),
        _OUTBOX_COLUMNS,
        values,
        ignore_conflicts_on="idempotency_key",
        conflicts_rare=True,  # deciders take turns and a committed decision is not made again
    )


def _get(session: Session, action_id: int, *, lock: bool = True) -> OutboxAction:
    query = select(OutboxAction).where(OutboxAction.id == action_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    action = session.scalars(query.execution_options(populate_existing=True)).first()
    if action is None:
        raise NotFoundError(f"unknown action {action_id}")
    return action


#: The audit event that records a collections transition and the facts that triggered it.
STAGE_CHANGED = "collections.stage_changed"


def decision_facts(session: Session, action: OutboxAction) -> dict[str, Any] | None:
    """The facts that triggered the decision behind `action`, as recorded when it was made.

    A collections transition enqueues several actions; its facts are written once, in its
    `collections.stage_changed` audit event (named by the payload's `transition` key), not
    copied into every action. Actions enqueued with `facts` in their payload keep them there.
    """
    payload = action.payload or {}
    if "facts" in payload:
        return payload["facts"]
    transition = payload.get("transition")
    if not transition:
        return None
    events = session.scalars(
        select(AuditEvent.data)
        .where(
            AuditEvent.subject_type == "customer",
            AuditEvent.subject_id == str(action.customer_id),
            AuditEvent.action == STAGE_CHANGED,
        )
        .order_by(AuditEvent.id.desc())
    )
    for data in events:
        if data.get("transition") == transition:
            return data.get("facts")
    return None


def audit_action(session: Session, action: OutboxAction, by: str, what: str, **data: Any) -> None:
    """Audit what happened to an action, against its customer (outbox and executor alike)."""
    audit.record(
        session,
        actor=by,
        action=f"action.{what}",
        subject_type="customer",
        subject_id=action.customer_id,
        data={
            "action_id": action.id,
            "kind": action.kind,
            "key": action.idempotency_key,
            "subscription_id": action.subscription_id,
            **data,
        },
        occurred_at=action.updated_at,
    )


def audit_outcome(session: Session, action: OutboxAction, by: str, what: str, **data: Any) -> None:
    """Audit what the executor (or its recovery) did with an action, with the decision behind
    it: attempts, the payload's policy version, stage and reason, and the triggering facts."""
    payload = action.payload or {}
    audit_action(
        session,
        action,
        by,
        what,
        attempts=action.attempts,
        policy_version=payload.get("policy_version"),
        stage=payload.get("stage"),
        reason=payload.get("reason"),
        facts=decision_facts(session, action),
        **data,
    )


def approve(
    session: Session, action_id: int, by: str, *, now: datetime | None = None
) -> OutboxAction:
    """Release an action held for approval (or held after an uncertain e-mail) to the executor."""
    action = _get(session, action_id)
    if action.status != ActionStatus.AWAITING_APPROVAL:
        raise ActionStateError(
            f"action {action_id} is {action.status}, not awaiting_approval: nothing to approve"
        )
    moment = _now(now)
    action.status = ActionStatus.PENDING.value
    action.approved_by = by
    action.approved_at = moment
    action.next_attempt_at = moment
    action.effect_started_at = None
    action.updated_at = moment
    audit_action(session, action, by, "approved")
    return action


def cancel(
    session: Session,
    action_id: int,
    by: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> OutboxAction:
    """Withdraw an action not yet carried out (pending or awaiting approval)."""
    action = _get(session, action_id)
    if action.status not in (ActionStatus.PENDING, ActionStatus.AWAITING_APPROVAL):
        raise ActionStateError(
            f"action {action_id} is {action.status}: only pending or awaiting_approval "
            "actions can be cancelled"
        )
    action.status = ActionStatus.CANCELLED.value
    action.updated_at = _now(now)
    action.last_error = reason
    audit_action(session, action, by, "cancelled", reason=reason)
    return action


def retry(
    session: Session,
    action_id: int,
    by: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> OutboxAction:
    """Put a failed action back in the queue, with a fresh count of attempts."""
    action = _get(session, action_id)
    if action.status != ActionStatus.FAILED:
        raise ActionStateError(f"action {action_id} is {action.status}, not failed")
    moment = _now(now)
    action.status = ActionStatus.PENDING.value
    action.attempts = 0
    action.next_attempt_at = moment
    action.effect_started_at = None
    action.updated_at = moment
    audit_action(session, action, by, "retried", previous_error=action.last_error, reason=reason)
    return action


def pending(
    session: Session, now: datetime | None = None, limit: int | None = None
) -> list[OutboxAction]:
    """Actions due now: pending with `next_attempt_at` <= `now`, oldest due first."""
    query = (
        select(OutboxAction)
        .where(
            OutboxAction.status == ActionStatus.PENDING.value,
            OutboxAction.next_attempt_at <= _now(now),
        )
        .order_by(OutboxAction.next_attempt_at, OutboxAction.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
