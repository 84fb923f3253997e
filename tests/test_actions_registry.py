# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""The action-kind registry: payloads checked at enqueue; a decider's staleness rule judges
only its own actions."""

from __future__ import annotations

import pytest

from outbox_fixtures import (
    SUSPEND,
    T0,
    _action,
    _enqueue,
    _executor,
    _provider_status,
    book,
    provider,
    sandbox,
)
from riskdesk.db.engine import session_scope
from riskdesk.db.models import CollectionState
from riskdesk.errors import InvalidInputError


def test_a_payload_that_does_not_fit_its_kind_is_refused_at_enqueue(engine, book):
    with pytest.raises(InvalidInputError, match=r"notify_email payload: field template"):
        _enqueue(engine, book, "notify_email", "k-bad-mail", {"stage": "reminder"})
    with pytest.raises(InvalidInputError, match=r"suspend_subscription payload: field reason"):
        _enqueue(engine, book, "suspend_subscription", "k-bad-sus", {"reason": "unpaid"})


def _in_good_standing(engine, book):
    with session_scope(engine) as session:
        session.add(
            CollectionState(
                customer_id=book["customer"], stage=None, orders_blocked=False,
                subscriptions_suspended=False, transitions=2, transition_key="t:2",
                updated_at=T0,
            )
        )  # fmt: skip


def test_a_fraud_suspension_runs_whatever_the_collections_state(engine, provider, book):
    _in_good_standing(engine, book)  # collections would call a t:1 suspension stale
    fraud = SUSPEND | {"origin": "fraud", "transition": "t:1", "reason": "fraud_investigation"}
    action_id = _enqueue(engine, book, "suspend_subscription", "k-fraud", fraud)
    _executor(engine, provider).run_once()
    action = _action(engine, action_id)
    assert action.status == "done" and "skipped" not in action.result
    assert _provider_status(provider, book) == "suspended"


def test_a_collections_suspension_the_customer_paid_out_of_is_skipped(engine, provider, book):
    _in_good_standing(engine, book)
    planned = SUSPEND | {"origin": "collections", "transition": "t:1"}
    action_id = _enqueue(engine, book, "suspend_subscription", "k-coll", planned)
    _executor(engine, provider).run_once()
    action = _action(engine, action_id)
    assert action.status == "done" and "superseded by t:2" in action.result["skipped"]
    assert _provider_status(provider, book) != "suspended"
