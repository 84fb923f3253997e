"""The provider's fraud events: move them through their lifecycle at the provider.

Partner Center's fraud events go Active -> Investigating -> Resolved (page
``update-fraud-events-status``: POST ``/v1/fraudEvents/subscription/{subscriptionId}/status``
with ``eventIds``, ``eventStatus`` and, to resolve, ``resolvedReason`` Fraud or Ignore).
riskdesk allows the forward moves only (Active to Investigating or Resolved, Investigating to
Resolved); a Resolved event stays resolved. Moving an event to the status it has already is
no change (a repeat after a lost answer changes nothing). The events are read from the
provider first, so a move is judged on the provider's current status, and the book's copy
(`provider_fraud_events`) is updated with what the provider answered, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from riskdesk import audit
from riskdesk.app.deps import Deps
from riskdesk.db.engine import session_scope
from riskdesk.db.models import ProviderFraudEvent
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.providers.records import FraudEventStatus

STATUSES: tuple[FraudEventStatus, ...] = ("Active", "Investigating", "Resolved")
ResolvedReason = Literal["Fraud", "Ignore"]
_RANK = {status: rank for rank, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class FraudEventChange:
    event_id: str
    subscription_id: str
    old: str
    new: str
    resolved_reason: str | None
    changed: bool


@dataclass(frozen=True)
class FraudStatusResult:
    subscription_id: str
    status: str
    changes: list[FraudEventChange]
    at: datetime

    @property
    def changed(self) -> int:
        return sum(1 for c in self.changes if c.changed)


def set_fraud_event_status(
    deps: Deps,
    subscription_id: str,
    status: FraudEventStatus,
    *,
    actor: str,
    event_ids: list[str] | None = None,
    resolved_reason: ResolvedReason | None = None,
) -> FraudStatusResult:
    """Move the fraud events of one Azure subscription (all, or `event_ids`) to `status`.

    A resolution needs its reason (Fraud: it was; Ignore: it was not) and only a resolution
    takes one. A backward move (Investigating to Active) or any move of a Resolved event is a
    `ConflictError` naming the events; nothing is sent then.
    """
    if status not in STATUSES:
        raise InvalidInputError(f"status {status!r}: expected one of {', '.join(STATUSES)}")
    if status == "Resolved" and resolved_reason not in ("Fraud", "Ignore"):
        raise InvalidInputError("resolving fraud events needs the reason: Fraud or Ignore")
    if status != "Resolved" and resolved_reason is not None:
        raise InvalidInputError(f"a reason is given only to resolve, not for {status}")
    subscription_id = subscription_id.strip()
    wanted = sorted(set(event_ids or []))
    with deps.open_provider() as provider:
        events = {
            e.event_id: e for e in provider.list_fraud_events(subscription_id=subscription_id)
        }
        if not events:
            raise NotFoundError(f"the provider lists no fraud events for {subscription_id}")
        unknown = [i for i in wanted if i not in events]
        if unknown:
            raise NotFoundError(
                f"fraud events not listed for subscription {subscription_id}: " + ", ".join(unknown)
            )
        chosen = [events[i] for i in wanted] if wanted else list(events.values())
        refused = [
            f"{e.event_id} ({e.event_status})"
            for e in chosen
            if e.event_status != status
            and (e.event_status == "Resolved" or _RANK[status] < _RANK[e.event_status])
        ]
        if refused:
            raise ConflictError(
                f"fraud events go Active, Investigating, Resolved and stay resolved: "
                f"cannot move to {status}: " + ", ".join(refused)
            )
        moving = [e for e in chosen if e.event_status != status]
        answered = (
            {
                e.event_id: e
                for e in provider.update_fraud_events(
                    subscription_id, [e.event_id for e in moving], status, resolved_reason
                )
            }
            if moving
            else {}
        )
    now = deps.now()
    changes = [
        FraudEventChange(
            e.event_id,
            subscription_id,
            e.event_status,
            answered[e.event_id].event_status if e.event_id in answered else e.event_status,
            resolved_reason if e.event_id in answered else e.resolved_reason,
            e.event_id in answered,
        )
        for e in chosen
    ]
    with session_scope(deps.engine()) as session:
        kept = {
            r.event_id: r
            for r in session.scalars(
                select(ProviderFraudEvent).where(
                    ProviderFraudEvent.event_id.in_(list(answered) or [""])
                )
            )
        }
        for event_id, event in answered.items():
            row = kept.get(event_id)
            if row is not None:
                row.status = event.event_status
                row.raw = event.to_wire()
                row.synced_at = now
            audit.record(
                session,
                actor=actor,
                action="provider_fraud_event.status_set",
                subject_type="provider_fraud_event",
                subject_id=event_id,
                data={
                    "subscription": subscription_id,
                    "status": [events[event_id].event_status, event.event_status],
                    "resolved_reason": resolved_reason,
                },
            )
    return FraudStatusResult(subscription_id, status, changes, now)
