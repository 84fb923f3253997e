"""The sandbox's fraud events: listing with filters, and setting their status per subscription."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from riskdesk.providers.records import FraudEventStatusUpdate
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, wire

_FRAUD_STATUSES = {"active": "Active", "investigating": "Investigating", "resolved": "Resolved"}


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the fraud event routes over `state` to `app`."""

    @app.get("/v1/fraudEvents")
    def list_fraud_events(request: Request):
        status = inputs.param(request, "EventStatus")
        subscription_id = (inputs.param(request, "SubscriptionId") or "").lower()
        wanted = None
        if status:
            wanted = _FRAUD_STATUSES.get(status.lower())
            if wanted is None:
                raise ApiError(
                    400,
                    Codes.INVALID_INPUT,
                    f"EventStatus must be Active, Investigating or Resolved: {status!r}",
                )
        with state.lock:
            events = [
                e
                for e in state.fraud_events.values()
                if (wanted is None or e.event_status == wanted)
                and (not subscription_id or (e.subscription_id or "").lower() == subscription_id)
            ]
        return inputs.paged(request, events, wire, default_size=100, max_size=500)

    @app.post("/v1/fraudEvents/subscription/{subscription_id}/status")
    async def update_fraud_events(request: Request, subscription_id: str):
        body = await inputs.body(request, FraudEventStatusUpdate)
        if body.event_status == "Resolved" and not body.resolved_reason:
            raise ApiError(
                400, Codes.INVALID_INPUT, "resolvedReason (Fraud or Ignore) is required to resolve"
            )
        with state.lock:
            mine = {
                e.event_id: e
                for e in state.fraud_events.values()
                if (e.subscription_id or "").lower() == subscription_id.lower()
            }
            if not mine:
                raise ApiError(
                    404,
                    Codes.FRAUD_EVENT_NOT_FOUND,
                    f"no fraud events for subscription {subscription_id}",
                )
            unknown = [i for i in body.event_ids if i not in mine]
            if unknown:
                raise ApiError(
                    404,
                    Codes.FRAUD_EVENT_NOT_FOUND,
                    f"fraud events not found for subscription {subscription_id}: "
                    + ", ".join(unknown),
                )
            chosen = [mine[i] for i in body.event_ids] if body.event_ids else list(mine.values())
            now = inputs.utc_now()
            updated = []
            for event in chosen:
                changes: dict[str, Any] = {"event_status": body.event_status}
                if body.event_status == "Resolved":
                    changes.update(
                        resolved_reason=body.resolved_reason, resolved_on=now, resolved_by="api"
                    )
                else:
                    changes.update(resolved_reason=None, resolved_on=None, resolved_by=None)
                new = event.model_copy(update=changes)
                for name in changes:  # mark as set, so to_wire() writes them
                    new.model_fields_set.add(name)
                state.fraud_events[event.event_id] = new
                updated.append(new)
            state.save()
            return inputs.collection(updated)
