"""Re-evaluating one customer's collections right after a change to its book.

A payment, a dispute opened or resolved, a promise added or cancelled: each changes what the
collections policy decides for that customer, so the use case that writes the change judges
the customer again at once, as of today (the same call `app.payments` makes), and with
`execute` carries out what that plans. The change is committed first; should what follows
fail, `FollowUpFailedError` says the change is saved and that the next collections run
finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from riskdesk.app.deps import Deps
from riskdesk.app.outbox import ExecutionTotals, execute_due
from riskdesk.collections.evaluate import Decision
from riskdesk.collections.policy import Policy
from riskdesk.collections.run import run_collections
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
    error raised should this fail. Check the policy and, with `execute`, `deps.check_effects()`
    before writing the change, so that a setting that is wrong refuses the change instead.
    """
    result = Reevaluation()
    step, later = "re-evaluating the customer", "the next collections run will re-evaluate it"
    try:
        report = run_collections(
            deps.engine(),
            policy,
            as_of=deps.today(),
            customer_ids=[customer_id],
            actor=actor,
            now=deps.now(),
        )
        result.transitions = list(report.transitions)
        result.actions_planned = report.enqueued
        if execute:
            step, later = "carrying out the planned actions", "the next run will carry them out"
            result.executed = execute_due(deps, actor="executor")
    except RiskdeskError as exc:
        raise FollowUpFailedError(f"{recorded}, but {step} failed: {exc}; {later}") from None
    return result
