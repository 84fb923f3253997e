"""Invoice disputes: open one, resolve it upheld or rejected; the customer re-evaluated at once.

Opening a dispute takes the invoice out of what is overdue, so the customer may step down
(and be reinstated); rejecting it puts the invoice back, so the customer may step up; an
upheld dispute credits the invoice (`riskdesk.book.disputes`). Either way the customer's
collections are judged again right after the change is committed (`app.reevaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from riskdesk.app.deps import Deps
from riskdesk.app.reevaluate import Reevaluation, owe_reevaluation, reevaluate
from riskdesk.book import disputes as book
from riskdesk.book.disputes import DisputeChange
from riskdesk.db.engine import session_scope
from riskdesk.db.models import DisputeOutcome


@dataclass(frozen=True)
class DisputeResult:
    change: DisputeChange
    followed: Reevaluation


def open_dispute(
    deps: Deps,
    invoice: str,
    *,
    reason: str,
    actor: str,
    execute: bool = True,
    policy: Path | None = None,
) -> DisputeResult:
    """Record that the customer disputes `invoice` (its number) for `reason`."""
    engine = deps.engine()
    loaded = deps.policy(policy)
    if execute:
        deps.check_effects()
    with session_scope(engine) as session:
        change = book.open_dispute(session, invoice, reason=reason, actor=actor, now=deps.now())
        owe_reevaluation(
            session, change.customer_id, cause=f"dispute #{change.dispute_id}", now=deps.now()
        )
    followed = reevaluate(
        deps,
        loaded,
        change.customer_id,
        actor=actor,
        execute=execute,
        recorded=f"the dispute of invoice {change.invoice} is recorded "
        f"(dispute #{change.dispute_id})",
    )
    return DisputeResult(change, followed)


def resolve_dispute(
    deps: Deps,
    invoice: str,
    *,
    outcome: DisputeOutcome,
    note: str | None = None,
    actor: str,
    execute: bool = True,
    policy: Path | None = None,
) -> DisputeResult:
    """Resolve the open dispute of `invoice`: upheld credits it, rejected puts it back."""
    engine = deps.engine()
    loaded = deps.policy(policy)
    if execute:
        deps.check_effects()
    with session_scope(engine) as session:
        change = book.resolve_dispute(
            session,
            invoice,
            outcome=outcome,
            note=note,
            actor=actor,
            now=deps.now(),
            today=deps.today(),
        )
        owe_reevaluation(
            session, change.customer_id, cause=f"dispute #{change.dispute_id}", now=deps.now()
        )
    followed = reevaluate(
        deps,
        loaded,
        change.customer_id,
        actor=actor,
        execute=execute,
        recorded=f"the dispute of invoice {change.invoice} is resolved ({outcome.value})",
    )
    return DisputeResult(change, followed)
