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

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskdesk import audit
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
) -> OutboxAction | None:
    """Add an action in the caller's transaction; a key already present adds nothing.

    Returns the action holding `key`: the new one, or the one enqueued before (whatever its
    status: a key once used is never reused, even after the action was cancelled or failed).
    None only if a concurrent transaction holding the same key rolled back between our insert
    and our read, which a caller can treat as "not enqueued, decide again".
    """
    kind = ActionKind(kind).value
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
    if name == "postgresql":
        stmt = postgresql.insert(OutboxAction).values(values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["idempotency_key"])
    elif name == "sqlite":
        stmt = sqlite.insert(OutboxAction).values(values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["idempotency_key"])
    else:  # pragma: no cover - riskdesk supports the two above
        stmt = insert(OutboxAction).values(values)
    session.execute(stmt)
    return session.scalars(
        select(OutboxAction)
        .where(OutboxAction.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).first()


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


def superseded(
    kind: str,
    payload: dict[str, Any] | None,
    *,
    stage: str | None,
    subscriptions_suspended: bool,
    transition_key: str | None,
    left_stage: bool | None = None,
    scope_held: bool | None = None,
) -> str | None:
    """Why a collections action no longer applies to the customer's current state, or None.

    A collections action names the transition that planned it (`payload["transition"]`); the
    customer may have moved on since (paid, escalated, re-entered a stage). Used twice: by a
    run, to cancel what its new transitions make stale, and by the executor, so an action
    retried or approved late is not carried out against a state it was not planned for.

    A run knows the policy and says more: `left_stage` (the customer is now at a less severe
    stage than the action's) and `scope_held` (the new stage still suspends the action's
    scope). A notice is stale once the customer is below its stage with nothing suspended, and
    kept on escalation: the suspensions it announces may still be waiting for approval.
    Without them (the executor) a notice is stale only once the customer is in good standing,
    and a suspension once no stage holds the customer suspended. States
    recorded before transitions were keyed (`transition_key` None) never make an action stale.
    """
    transition = (payload or {}).get("transition")
    if not transition or transition_key is None or transition == transition_key:
        return None  # not a collections action, an older state, or the current transition
    later = f"superseded by {transition_key} (stage {stage or 'none'})"
    if kind == ActionKind.NOTIFY_EMAIL:
        # Stale once the customer is below the notice's stage and nothing it may announce
        # (a suspension) still holds; the executor, without severities, waits for good standing.
        left = stage is None if left_stage is None else left_stage and not subscriptions_suspended
        return f"{later}: the customer left that stage" if left else None
    if kind == ActionKind.SUSPEND_SUBSCRIPTION:
        if not subscriptions_suspended:
            return f"{later}: not held for non-payment any more"
        if scope_held is False:
            return f"{later}: the stage no longer suspends this scope"
        return None
    if kind == ActionKind.REACTIVATE_SUBSCRIPTION and subscriptions_suspended:
        if scope_held is None or scope_held:
            return f"{later}: held for non-payment again"
        return None
    if kind == ActionKind.OPEN_REVIEW_CASE and stage is None:
        return f"{later}: in good standing again"
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
    session: Session, action_id: int, by: str, *, now: datetime | None = None
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
    audit_action(session, action, by, "retried", previous_error=action.last_error)
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
