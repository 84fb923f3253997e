"""The sandbox's fraud events: listing with filters, and setting their status per subscription.

As documented (pages ``get-fraud-events``, ``update-fraud-events-status``): both answer a
bare JSON array of events (no ``{totalCount, items}`` envelope); the new event model's fields
(`FRAUD_NEW_MODEL_FIELDS`), the ``EventType`` filter and ``PageSize`` / ``PageNumber``
paging come only with the ``X-NewEventsModel: true`` header. The status update takes the
documented PascalCase body ``{"EventIds": [...], "EventStatus": ..., "ResolvedReason": ...}``
(keys in any case); ``ResolvedReason`` (``Fraud`` or ``Ignore``) is needed to resolve.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from riskdesk.providers.records import (
    FRAUD_NEW_MODEL_FIELDS,
    FraudEvent,
    FraudEventStatusUpdate,
    wire_alias,
)
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, WireResponse, wire

NEW_EVENTS_MODEL_HEADER = "X-NewEventsModel"
_FRAUD_STATUSES = {"active": "Active", "investigating": "Investigating", "resolved": "Resolved"}
_NEW_MODEL_KEYS = frozenset(wire_alias(FraudEvent, name) for name in FRAUD_NEW_MODEL_FIELDS)
_REASONS = {"fraud": "Fraud", "ignore": "Ignore"}


def new_events_model(request: Request) -> bool:
    return (request.headers.get(NEW_EVENTS_MODEL_HEADER) or "").strip().lower() == "true"


def event_wire(event: FraudEvent, *, new_model: bool) -> dict[str, Any]:
    """An event as documented: the new model's fields only when the header asked for them."""
    data = wire(event)
    if not new_model:
        for key in _NEW_MODEL_KEYS & data.keys():
            del data[key]
    return data


def _positive(request: Request, name: str) -> int | None:
    text = inputs.param(request, name)
    if text is None or text == "":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ApiError(400, Codes.INVALID_INPUT, f"{name} must be a positive integer: {text!r}")
    return int(text)


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the fraud event routes over `state` to `app`."""

    @app.get("/v1/fraudEvents")
    def list_fraud_events(request: Request):
        new_model = new_events_model(request)
        status = inputs.param(request, "EventStatus")
        subscription_id = (inputs.param(request, "SubscriptionId") or "").lower()
        event_type = (inputs.param(request, "EventType") or "").lower() if new_model else ""
        wanted = None
        if status:
            wanted = _FRAUD_STATUSES.get(status.lower())
            if wanted is None:
                raise ApiError(
                    400,
                    Codes.INVALID_INPUT,
                    f"EventStatus must be Active, Investigating or Resolved: {status!r}",
                )
        page_size = _positive(request, "PageSize") if new_model else None
        page_number = _positive(request, "PageNumber") if new_model else None
        with state.lock:
            events = [
                e
                for e in state.fraud_events.values()
                if (wanted is None or e.event_status == wanted)
                and (not subscription_id or (e.subscription_id or "").lower() == subscription_id)
                and (not event_type or (e.event_type or "").lower() == event_type)
            ]
        if page_size and page_number:  # both, as documented; either alone is ignored
            events = events[(page_number - 1) * page_size : page_number * page_size]
        return WireResponse([event_wire(e, new_model=new_model) for e in events])

    @app.post("/v1/fraudEvents/subscription/{subscription_id}/status")
    async def update_fraud_events(request: Request, subscription_id: str):
        body = await inputs.body(request, FraudEventStatusUpdate)
        reason = _REASONS.get((body.resolved_reason or "").lower())
        if body.resolved_reason and reason is None:
            raise ApiError(
                400,
                Codes.INVALID_INPUT,
                f"ResolvedReason must be Fraud or Ignore: {body.resolved_reason!r}",
            )
        if body.event_status == "Resolved" and not reason:
            raise ApiError(
                400, Codes.INVALID_INPUT, "ResolvedReason (Fraud or Ignore) is required to resolve"
            )
        with state.lock:
            mine = {
                e.event_id.lower(): e
                for e in state.fraud_events.values()
                if (e.subscription_id or "").lower() == subscription_id.lower()
            }
            if not mine:
                raise ApiError(
                    404,
                    Codes.FRAUD_EVENT_NOT_FOUND,
                    f"no fraud events for subscription {subscription_id}",
                )
            unknown = [i for i in body.event_ids if i.lower() not in mine]
            if unknown:
                raise ApiError(
                    404,
                    Codes.FRAUD_EVENT_NOT_FOUND,
                    f"fraud events not found for subscription {subscription_id}: "
                    + ", ".join(unknown),
                )
            chosen = (
                [mine[i.lower()] for i in body.event_ids] if body.event_ids else list(mine.values())
            )
            now = inputs.utc_now()
            updated = []
            for event in chosen:
                changes: dict[str, Any] = {"event_status": body.event_status}
                if body.event_status == "Resolved":
                    changes.update(resolved_reason=reason, resolved_on=now, resolved_by="api")
                else:
                    changes.update(resolved_reason=None, resolved_on=None, resolved_by=None)
                new = event.model_copy(update=changes)
                for name in changes:  # mark as set, so to_wire() writes them
                    new.model_fields_set.add(name)
                state.fraud_events[event.event_id] = new
                updated.append(new)
            state.save()
            new_model = new_events_model(request)
            return WireResponse([event_wire(e, new_model=new_model) for e in updated])
