"""Outbox use cases: list the actions, carry the due ones out, approve/cancel/retry one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from riskdesk.actions import outbox
from riskdesk.actions.recovery import Holder, holder_gone, recover_abandoned
from riskdesk.app.deps import Deps
from riskdesk.db.engine import session_scope
from riskdesk.db.models import ActionStatus, OutboxAction
from riskdesk.errors import InvalidInputError

#: How long an executor's claim on an action lasts (riskdesk.actions.executor's default).
LEASE = timedelta(minutes=5)


@dataclass
class ExecutionTotals:
    done: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    recovered: int = 0


def execute_due(deps: Deps, *, actor: str, batch: int = 500) -> ExecutionTotals:
    """Carry out every due action (provider, mail, webhooks), in batches, until none is due.

    Customers a killed command left to be judged again are judged first (with the configured
    policy), so what that plans is carried out too.
    """
    from riskdesk.app.reevaluate import settle_pending  # it imports this module

    settle_pending(deps, None, actor="collections")
    totals = ExecutionTotals()
    with deps.executor(actor) as executor:
        while True:
            report = executor.run_once(limit=batch)
            totals.done += report.done
            totals.retried += report.retried
            totals.failed += report.failed
            totals.held += report.held
            totals.recovered += report.recovered
            if report.claimed < batch:
                break
    return totals


@dataclass(frozen=True)
class ActionRow:
    id: int
    kind: str
    customer_id: int
    subscription_id: int | None
    status: str
    attempts: int
    stage: str | None
    why: str | None  # cancelled, held, failed: the reason; in progress: since when
    created_at: datetime
    claimed_at: datetime | None
    lease_expires_at: datetime | None  # in progress: when another executor may take it over


def list_actions(
    deps: Deps, *, status: ActionStatus | None = None, limit: int = 50
) -> list[ActionRow]:
    """Outbox actions, newest first; an action in progress shows when its lease expires."""
    with session_scope(deps.engine()) as session:
        query = select(OutboxAction).order_by(OutboxAction.id.desc()).limit(limit)
        if status is not None:
            query = query.where(OutboxAction.status == ActionStatus(status).value)
        return [_row(a) for a in session.scalars(query)]


def _row(a: OutboxAction) -> ActionRow:
    payload: dict[str, Any] = a.payload or {}
    in_progress = a.status == ActionStatus.IN_PROGRESS.value and a.claimed_at is not None
    expires = a.claimed_at + LEASE if in_progress and a.claimed_at else None
    why = a.last_error
    if a.status == ActionStatus.AWAITING_APPROVAL.value and not why:
        why = payload.get("approval_reason") or "waits for a person's approval"
    if in_progress and a.claimed_at is not None:
        holder = Holder.parse(a.claimed_by)
        by = f"an executor ({holder.describe()})" if holder else "an executor"
        gone = holder_gone(a.claimed_by)
        why = (
            f"claimed at {a.claimed_at:%Y-%m-%d %H:%M:%S} UTC by {by}"
            + (f"; {gone}: the next run takes it up at once" if gone else "")
            + (f"; earlier: {a.last_error}" if a.last_error else "")
        )
    return ActionRow(
        id=a.id,
        kind=a.kind,
        customer_id=a.customer_id,
        subscription_id=a.subscription_id,
        status=a.status,
        attempts=a.attempts,
        stage=payload.get("stage"),
        why=why,
        created_at=a.created_at,
        claimed_at=a.claimed_at,
        lease_expires_at=expires,
    )


def approve(deps: Deps, action_id: int, *, actor: str) -> None:
    with session_scope(deps.engine()) as session:
        outbox.approve(session, action_id, actor, now=deps.now())


def _take_back_if_abandoned(deps: Deps, action_id: int, *, actor: str, request: str) -> bool:
    """An action in progress whose executor is provably gone (lease expired, or its process no
    longer runs) is taken back first (audited, by `actor`), as the next run would; one an
    executor still holds is refused (a conflict) naming the holder and its lease."""
    engine = deps.engine()
    with session_scope(engine) as session:
        action = session.get(OutboxAction, action_id)
        if action is None or action.status != ActionStatus.IN_PROGRESS.value:
            return False  # the use case's own check names the state
        claimed_at, claimed_by = action.claimed_at, action.claimed_by
    taken, held = recover_abandoned(
        engine,
        now=deps.now(),
        lease=LEASE,
        actor=actor,
        only=[action_id],
        audit_data={"on_request": request},
    )
    if taken or held:
        return True
    holder = Holder.parse(claimed_by)
    who = f"an executor ({holder.describe()})" if holder else "an executor"
    when = (
        f" (claimed at {claimed_at:%Y-%m-%d %H:%M:%S} UTC, its lease ends "
        f"{claimed_at + LEASE:%Y-%m-%d %H:%M:%S} UTC)"
        if claimed_at
        else ""
    )
    raise outbox.ActionStateError(
        f"action {action_id} is in_progress: {who} holds it{when}; wait for it to record the "
        "result, or for its lease to end"
    )


def cancel(deps: Deps, action_id: int, *, actor: str, reason: str) -> None:
    """Withdraw an action not yet carried out; one left in progress by a stopped executor too."""
    if not reason.strip():
        raise InvalidInputError(f"action {action_id}: say why it is cancelled (a reason)")
    _take_back_if_abandoned(deps, action_id, actor=actor, request="cancel")
    with session_scope(deps.engine()) as session:
        outbox.cancel(session, action_id, actor, reason=reason, now=deps.now())


def retry(deps: Deps, action_id: int, *, actor: str, reason: str) -> None:
    """Queue a failed action again with a fresh count of attempts; one left in progress by a
    stopped executor is taken back and queued at once (with its attempts counted so far)."""
    if not reason.strip():
        raise InvalidInputError(f"action {action_id}: say why it is retried (a reason)")
    taken = _take_back_if_abandoned(deps, action_id, actor=actor, request="retry")
    with session_scope(deps.engine()) as session:
        action = session.get(OutboxAction, action_id)
        if taken and action is not None and action.status == ActionStatus.PENDING.value:
            # Just taken back from a stopped executor: it is queued, due now. Say who and why.
            outbox.audit_action(session, action, actor, "retried", reason=reason, recovered=True)
            return
        outbox.retry(session, action_id, actor, reason=reason, now=deps.now())
