"""Fraud event status updates as a use case: Active -> Investigating -> Resolved (Fraud or
Ignore) at the provider, the documented PascalCase body on the wire, the book's copy and the
audit trail updated; backward moves refused. SQLite and PostgreSQL, real socket."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from provider_features import synced_book
from riskdesk.app import fraud_events as uc
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, ProviderFraudEvent
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import sample_state, start_sandbox


def _active(state) -> tuple[str, str]:
    event = next(e for e in state.fraud_events.values() if e.event_status == "Active")
    return event.subscription_id, event.event_id


def test_the_client_sends_the_documented_pascal_case_body():
    state = sample_state(seed=3)
    subscription, event_id = _active(state)
    seen: list[httpx.Request] = []
    with (
        start_sandbox(state) as sandbox,
        httpx.Client(event_hooks={"request": [seen.append]}) as http,
    ):
        pc = PartnerCenter(StaticToken(sandbox.token), base_url=sandbox.base_url, client=http)
        updated = pc.update_fraud_events(subscription, [event_id], "Resolved", "Fraud")
    # update-fraud-events-status documents: EventIds, EventStatus, ResolvedReason
    assert json.loads(seen[-1].content) == {
        "EventIds": [event_id],
        "EventStatus": "Resolved",
        "ResolvedReason": "Fraud",
    }
    assert [e.event_status for e in updated] == ["Resolved"]


def test_an_event_goes_active_investigating_resolved_and_stays_resolved(engine, database_url):
    with synced_book(engine, database_url) as (deps, state, _sandbox):
        subscription, event_id = _active(state)
        first = uc.set_fraud_event_status(deps, subscription, "Investigating", actor="analyst:kim")
        assert [(c.old, c.new, c.changed) for c in first.changes] == [
            ("Active", "Investigating", True)
        ]
        assert state.fraud_events[event_id].event_status == "Investigating"
        repeat = uc.set_fraud_event_status(deps, subscription, "Investigating", actor="kim")
        assert repeat.changed == 0  # a repeat changes nothing and sends nothing
        with pytest.raises(ConflictError, match="Active, Investigating, Resolved"):
            uc.set_fraud_event_status(deps, subscription, "Active", actor="kim")
        with pytest.raises(InvalidInputError, match="Fraud or Ignore"):
            uc.set_fraud_event_status(deps, subscription, "Resolved", actor="kim")
        with pytest.raises(InvalidInputError, match="only to resolve"):
            uc.set_fraud_event_status(
                deps, subscription, "Investigating", actor="kim", resolved_reason="Fraud"
            )
        done = uc.set_fraud_event_status(
            deps, subscription, "Resolved", actor="kim", resolved_reason="Fraud",
            event_ids=[event_id],
        )  # fmt: skip
        assert done.changed == 1
        assert state.fraud_events[event_id].resolved_reason == "Fraud"
        with pytest.raises(ConflictError, match="stay resolved"):
            uc.set_fraud_event_status(deps, subscription, "Investigating", actor="kim")
        with pytest.raises(NotFoundError):
            uc.set_fraud_event_status(deps, subscription, "Resolved", actor="kim",
                                      resolved_reason="Ignore", event_ids=["nope"])  # fmt: skip
        with session_scope(engine) as session:
            row = session.scalars(
                select(ProviderFraudEvent).where(ProviderFraudEvent.event_id == event_id)
            ).one()
            assert row.status == "Resolved" and row.raw["resolvedReason"] == "Fraud"
            audited = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "provider_fraud_event.status_set")
            ).all()
        assert [(a.actor, a.data["status"]) for a in audited] == [
            ("analyst:kim", ["Active", "Investigating"]),
            ("kim", ["Investigating", "Resolved"]),
        ]
