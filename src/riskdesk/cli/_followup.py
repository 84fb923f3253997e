"""What the invoices and promises commands print about the customer's re-evaluation."""

from __future__ import annotations

from typing import Any

from riskdesk.app.reevaluate import FollowUpFailedError, Reevaluation
from riskdesk.cli._common import console
from riskdesk.errors import RiskdeskError


def hint(exc: RiskdeskError) -> str | None:
    if isinstance(exc, FollowUpFailedError):
        return "once the cause is fixed, `riskdesk collections run` finishes what is left"
    return None


def as_json(followed: Reevaluation) -> dict[str, Any]:
    return {
        "transitions": [
            {"from": d.previous_stage, "to": d.stage, "reason": d.reason}
            for d in followed.transitions
        ],
        "actions_planned": followed.actions_planned,
        "executed": followed.executed,
    }


def show(followed: Reevaluation) -> None:
    for d in followed.transitions:
        console.print(
            f"stage: {d.previous_stage or 'in good standing'} -> {d.stage or 'in good standing'}"
            f" ({d.reason})"
        )
    if not followed.transitions:
        console.print("stage: unchanged")
    if followed.executed:
        done = followed.executed
        console.print(f"executed: {done.done} done, {done.failed} failed")
