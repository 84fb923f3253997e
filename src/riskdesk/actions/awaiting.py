"""An action that waits for others: `payload["after"]` names their idempotency keys.

A notice that confirms a reinstatement is written after the reactivations it announces and
must not go out before them (nor at all if one of them failed). The executor asks
`waiting_for` before the effect: while an awaited action is not yet carried out the action is
deferred (put back, its attempt not counted); once one failed or was cancelled the action
fails too, naming it, so a person sees both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskdesk.db.models import ActionStatus, OutboxAction

_GAVE_UP = (ActionStatus.FAILED.value, ActionStatus.CANCELLED.value)


class AwaitedActionFailed(Exception):
    """An action this one waits for will never be carried out: a permanent failure."""


@dataclass(frozen=True)
class Waiting:
    key: str
    status: str


def waiting_for(session: Session, keys: Sequence[str]) -> Waiting | None:
    """The first awaited action not yet done, or None when all are done.

    Raises AwaitedActionFailed when one failed, was cancelled or was never enqueued.
    """
    if not keys:
        return None
    statuses = dict(
        session.execute(
            select(OutboxAction.idempotency_key, OutboxAction.status).where(
                OutboxAction.idempotency_key.in_(list(keys))
            )
        ).all()
    )
    for key in keys:
        status = statuses.get(key)
        if status is None or status in _GAVE_UP:
            what = "was never enqueued" if status is None else f"is {status}"
            raise AwaitedActionFailed(f"it waits for action {key}, which {what}")
    for key in keys:
        if statuses[key] != ActionStatus.DONE.value:
            return Waiting(key, statuses[key])
    return None
