"""Re-evaluating one customer's collections right after a change to its book.

A payment, a dispute opened or resolved, a promise added or cancelled: each changes what the
collections policy decides for that customer, so the use case that writes the change judges
the customer again at once, as of today (the same call `app.payments` makes), and with
`execute` carries out what that plans. The change is committed first; should what follows
fail, `FollowUpFailedError` says the change is saved and that the next collections run
finishes the job.

Durable follow-up: a change that must be followed by judging its customer again records so in
its own transaction (`owe_reevaluation`: a `pending_reevaluations` row), and the row is deleted
once the customer was judged. A command killed between the two leaves the row; the next
command that touches collections (`collections run`, `payments record`, carrying out the
outbox) first judges every customer still owed (`settle_pending`). Judging again is
idempotent: a customer judged twice on the same facts changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from riskdesk.app.deps import Deps
from riskdesk.app.outbox import ExecutionTotals, execute_due
from riskdesk.collections.evaluate import Decision
from riskdesk.collections.policy import Policy
from riskdesk.collections.run import RunReport, run_collections
from riskdesk.crashpoints import crashpoint
from riskdesk.db.engine import session_scope
from riskdesk.db.models import PendingReevaluation
from riskdesk.errors import RiskdeskError


class FollowUpFailedError(RiskdeskError):
    """The change is saved, but re-evaluating the customer or acting on it failed."""


@dataclass
class Reevaluation:
    transitions: list[Decision] = field(default_factory=list)
    actions_planned: int = 0
    executed: ExecutionTotals | None = None


def reevaluate(
    deps: Deps,
    policy: Policy,
    customer_id: int,
    *,
    actor: str,
    execute: bool,
    recorded: str,
) -> Reevaluation:
    """Judge `customer_id` as of today with `policy`; with `execute`, carry out what is due.

    `recorded` says what was saved (e.g. "the dispute of invoice INV-1 is recorded"), for the
    error raised should this fail. The change's transaction should `owe_reevaluation`, so
    that a command killed before this is finished by the next one. Check the policy and, with
    `execute`, `deps.check_effects()` before writing the change, so that a setting that is
    wrong refuses the change instead.
    """
    result = Reevaluation()
    step, later = "re-evaluating the customer", "the next collections run will re-evaluate it"
    try:
        report = judge_now(deps, policy, customer_id, actor=actor)
        result.transitions = list(report.transitions)
        result.actions_planned = report.enqueued
        if execute:
            step, later = "carrying out the planned actions", "the next run will carry them out"
            result.executed = execute_due(deps, actor="executor")
    except RiskdeskError as exc:
        raise FollowUpFailedError(f"{recorded}, but {step} failed: {exc}; {later}") from None
    return result


def judge_now(deps: Deps, policy: Policy, customer_id: int, *, actor: str) -> RunReport:
    """Judge `customer_id` as of today, settling what its change owed (`owe_reevaluation`);
    with nothing owed (another command judged it meanwhile) it is judged all the same."""
    report = settle_pending(deps, policy, actor=actor, customer_ids=[customer_id])
    if report is None:
        report = run_collections(
            deps.engine(),
            policy,
            as_of=deps.today(),
            customer_ids=[customer_id],
            actor=actor,
            now=deps.now(),
        )
    return report


def owe_reevaluation(session: Session, customer_id: int, *, cause: str, now: datetime) -> None:
    """Record, in the caller's transaction, that `customer_id` must be judged again."""
    session.add(PendingReevaluation(customer_id=customer_id, cause=cause[:200], created_at=now))
    session.flush()


def settle_pending(
    deps: Deps,
    policy: Policy | None,
    *,
    actor: str,
    customer_ids: Sequence[int] | None = None,
) -> RunReport | None:
    """Judge, as of today, every customer a committed change left owed (or only those of
    `customer_ids`), then delete what was settled; None when nothing was owed.

    `policy` None: the configured one, read only when something is owed.
    """
    engine = deps.engine()
    with session_scope(engine) as session:
        query = select(PendingReevaluation.id, PendingReevaluation.customer_id)
        if customer_ids is not None:
            query = query.where(PendingReevaluation.customer_id.in_(list(customer_ids)))
        owed = session.execute(query.order_by(PendingReevaluation.id)).all()
    if not owed:
        return None
    report = run_collections(
        engine,
        policy or deps.policy(),
        as_of=deps.today(),
        customer_ids=sorted({customer for _, customer in owed}),
        actor=actor,
        now=deps.now(),
    )
    crashpoint("reevaluate.before_settled")
    with session_scope(engine) as session:
        session.execute(
            delete(PendingReevaluation).where(PendingReevaluation.id.in_([i for i, _ in owed]))
        )
    return report
