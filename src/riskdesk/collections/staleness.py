"""The collections staleness rule: when an action collections planned no longer applies.

A collections action names the transition that planned it; the customer may have moved on
since. `superseded` judges one action against a state; `stale_for_executor` is the rule the
composition root registers for the kinds collections plans (the executor records such an
action done and skipped). Only actions whose payload origin is "collections" are judged: a
suspension a fraud rule enqueued is carried out whatever the customer's collections stage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from riskdesk.collections.plan import ORIGIN, REINSTATEMENT
from riskdesk.db.models import ActionKind, CollectionState, OutboxAction


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
    """Why a collections action (origin "collections") no longer fits the customer's state.

    A collections action names the transition that planned it (`payload["transition"]`); the
    customer may have moved on since (paid, escalated, re-entered a stage). Used twice: by a
    run, to cancel what its new transitions make stale, and by the executor, so an action
    retried or approved late is not carried out against a state it was not planned for.

    A run knows the policy and says more: `left_stage` (the customer is now at a less severe
    stage than the action's) and `scope_held` (the new stage still suspends the action's
    scope). A notice is stale once the customer is below its stage with nothing suspended, and
    kept on escalation: the suspensions it announces may still be waiting for approval.
    Without them (the executor) a notice is stale only once the customer is in good standing,
    and a suspension once no stage holds the customer suspended. A reinstatement notice is
    stale, like a reactivation, once the customer is held for non-payment again. States
    recorded before transitions were keyed (`transition_key` None) never make an action stale.
    """
    if (payload or {}).get("origin") != ORIGIN:
        return None  # another decider's action (fraud, a person): not collections' to judge
    transition = (payload or {}).get("transition")
    if not transition or transition_key is None or transition == transition_key:
        return None  # not a collections action, an older state, or the current transition
    later = f"superseded by {transition_key} (stage {stage or 'none'})"
    if kind == ActionKind.NOTIFY_EMAIL and (payload or {}).get("announces") == REINSTATEMENT:
        # It confirms access restored: wrong once the customer is held for non-payment again.
        if subscriptions_suspended and (scope_held is None or scope_held):
            return f"{later}: held for non-payment again"
        return None
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


def stale_for_executor(session: Session, action: OutboxAction) -> str | None:
    """Why the executor should skip `action` (a collections action overtaken), or None."""
    payload = action.payload or {}
    if payload.get("origin") != ORIGIN or not payload.get("transition"):
        return None
    state = session.get(CollectionState, action.customer_id)
    if state is None:
        return None
    return superseded(
        action.kind,
        payload,
        stage=state.stage,
        subscriptions_suspended=state.subscriptions_suspended,
        transition_key=state.transition_key,
    )
