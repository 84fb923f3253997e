# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""The outbox and the executor's provider effects with real parts: a sandbox over HTTP, a
database (keys, approval, suspend/reactivate, retries, crashes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from mail_helpers import SmtpServer, free_port
from outbox_fixtures import (
    REMINDER,
    SUSPEND,
    T0,
    Clock,
    _action,
    _audits,
    _enqueue,
    _executor,
    _provider_status,
    _reasons,
    book,
    provider,
    sandbox,
    smtp,
)
from riskdesk.actions import outbox
from riskdesk.actions.outbox import ActionStateError
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, OutboxAction, Subscription, SubscriptionSuspension
from riskdesk.notify.mail import SmtpMailer
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter


def test_a_duplicate_key_enqueues_once(engine, book):
    first = _enqueue(engine, book, "suspend_subscription", "k-1", SUSPEND)
    second = _enqueue(engine, book, "suspend_subscription", "k-1", {"other": True})
    assert first == second
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxAction)) == 1
        assert session.get(OutboxAction, first).payload == SUSPEND
        assert [a.id for a in outbox.pending(session, T0)] == [first]
        assert outbox.pending(session, T0 - timedelta(seconds=1)) == []


def test_an_action_needing_approval_waits_until_approved(engine, provider, book):
    action_id = _enqueue(engine, book, "suspend_subscription", "k-a", SUSPEND,
                         requires_approval=True)  # fmt: skip
    executor = _executor(engine, provider)
    assert executor.run_once().claimed == 0
    assert _action(engine, action_id).status == "awaiting_approval"
    assert _provider_status(provider, book) == "active"
    with session_scope(engine) as session:
        outbox.approve(session, action_id, "alice", now=T0)
    with (
        pytest.raises(ActionStateError, match="not awaiting_approval"),
        session_scope(engine) as session,
    ):
        outbox.approve(session, action_id, "alice", now=T0)
    assert executor.run_once().done == 1
    action = _action(engine, action_id)
    assert (action.status, action.approved_by) == ("done", "alice")
    assert _provider_status(provider, book) == "suspended"
    assert [e.data["action_id"] for e in _audits(engine, "action.approved")] == [action_id]


def test_cancelled_actions_are_not_carried_out(engine, provider, book):
    action_id = _enqueue(engine, book, "suspend_subscription", "k-c", SUSPEND)
    with session_scope(engine) as session:
        outbox.cancel(session, action_id, "bob", reason="paid by phone", now=T0)
    assert _executor(engine, provider).run_once().claimed == 0
    assert _action(engine, action_id).status == "cancelled"
    assert _provider_status(provider, book) == "active"


# --------------------------------------------------------------------------- suspension


def test_suspend_then_reactivate_at_the_sandbox(engine, provider, book):
    executor = _executor(engine, provider)
    suspend = _enqueue(engine, book, "suspend_subscription", "k-s", SUSPEND)
    report = executor.run_once()
    assert (report.claimed, report.done) == (1, 1)
    assert _provider_status(provider, book) == "suspended"
    assert _reasons(engine, book["subscription"]) == ["non_payment"]
    action = _action(engine, suspend)
    assert action.status == "done" and action.attempts == 1
    assert action.result["provider_status"] == "suspended"
    with session_scope(engine) as session:
        assert session.get(Subscription, book["subscription"]).provider_status == "suspended"
    (event,) = _audits(engine, "action.done")
    assert event.data["policy_version"] == "ab" * 32
    assert event.data["facts"] == SUSPEND["facts"]
    assert event.subject_id == str(book["customer"])

    reactivate = _enqueue(engine, book, "reactivate_subscription", "k-r", {"reason": "non_payment"})
    assert executor.run_once().done == 1
    assert _provider_status(provider, book) == "active"
    assert _reasons(engine, book["subscription"]) == []
    assert _action(engine, reactivate).result["provider_status"] == "active"


def test_paying_does_not_reopen_a_subscription_held_for_fraud(engine, provider, book):
    executor = _executor(engine, provider)
    _enqueue(engine, book, "suspend_subscription", "k-f", {"reason": "fraud_investigation"})
    _enqueue(engine, book, "suspend_subscription", "k-n", SUSPEND)
    assert executor.run_once().done == 2
    assert _reasons(engine, book["subscription"]) == ["fraud_investigation", "non_payment"]
    reactivate = _enqueue(engine, book, "reactivate_subscription", "k-r", {"reason": "non_payment"})
    assert executor.run_once().done == 1
    action = _action(engine, reactivate)
    assert action.status == "done"
    assert action.result["still_held_for"] == ["fraud_investigation"]
    assert _reasons(engine, book["subscription"]) == ["fraud_investigation"]
    assert _provider_status(provider, book) == "suspended"


def test_a_reactivation_leaves_alone_what_riskdesk_did_not_suspend(engine, provider, book):
    # Someone suspended the subscription in Partner Center; riskdesk holds no reason for it.
    provider.set_subscription_status(book["tenant"], book["sub"], "suspended")
    reactivate = _enqueue(engine, book, "reactivate_subscription", "k-r", {"reason": "non_payment"})
    assert _executor(engine, provider).run_once().done == 1
    action = _action(engine, reactivate)
    assert action.result["reason_removed"] is False and "provider_status" not in action.result
    assert _provider_status(provider, book) == "suspended"  # not riskdesk's to lift


def test_a_reactivation_waits_for_a_suspension_another_executor_is_carrying_out(
    engine, provider, book
):
    clock = Clock()
    suspend = _enqueue(engine, book, "suspend_subscription", "k-s", SUSPEND)
    with session_scope(engine) as session:  # another executor holds it, its hold not yet written
        session.execute(
            update(OutboxAction)
            .where(OutboxAction.id == suspend)
            .values(status="in_progress", attempts=1, claimed_at=T0, updated_at=T0)
        )
    reactivate = _enqueue(engine, book, "reactivate_subscription", "k-r", {"reason": "non_payment"})
    report = _executor(engine, provider, now=clock).run_once()
    assert report.retried == 1
    action = _action(engine, reactivate)
    assert action.status == "pending" and "being carried out" in action.last_error


def test_a_crash_after_the_reactivation_call_is_finished_by_the_retry(engine, provider, book):
    clock = Clock()
    executor = _executor(engine, provider, now=clock)
    _enqueue(engine, book, "suspend_subscription", "k-s", SUSPEND)
    executor.run_once()
    action_id = _enqueue(engine, book, "reactivate_subscription", "k-r", {"reason": "non_payment"})
    # A first executor claimed it, reactivated at the provider, then died before recording.
    with session_scope(engine) as session:
        session.execute(
            update(OutboxAction)
            .where(OutboxAction.id == action_id)
            .values(status="in_progress", attempts=1, claimed_at=T0, updated_at=T0)
        )
    provider.set_subscription_status(book["tenant"], book["sub"], "active")
    assert _reasons(engine, book["subscription"]) == ["non_payment"]  # still riskdesk's hold

    clock.advance(minutes=6)  # the lease runs out; the retry repeats the idempotent call
    report = executor.run_once()
    assert (report.recovered, report.done) == (1, 1)
    assert _reasons(engine, book["subscription"]) == []
    assert _action(engine, action_id).result["provider_status"] == "active"
    assert _provider_status(provider, book) == "active"


def test_a_transient_provider_failure_is_retried_later(engine, provider, sandbox, book):
    clock = Clock()
    executor = _executor(engine, provider, now=clock, backoff_base=timedelta(seconds=30))
    action_id = _enqueue(engine, book, "suspend_subscription", "k-t", SUSPEND)
    sandbox.faults.error_rate = 1.0
    report = executor.run_once()
    assert (report.claimed, report.retried) == (1, 1)
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("pending", 1)
    assert action.next_attempt_at == T0 + timedelta(seconds=30)
    assert "TransientProviderError" in action.last_error
    assert _audits(engine, "action.failed") == []

    sandbox.faults.error_rate = 0.0
    assert executor.run_once().claimed == 0  # not due yet
    clock.advance(seconds=30)
    assert executor.run_once().done == 1
    action = _action(engine, action_id)
    assert (action.status, action.attempts, action.last_error) == ("done", 2, None)
    assert _provider_status(provider, book) == "suspended"
    assert _reasons(engine, book["subscription"]) == ["non_payment"]


def test_transient_failures_give_up_after_max_attempts(engine, book):
    dead = PartnerCenter(
        StaticToken("t"), base_url=f"http://127.0.0.1:{free_port()}", backoff_base=0.01,
        max_attempts=1,
    )  # fmt: skip
    clock = Clock()
    executor = _executor(engine, dead, now=clock, max_attempts=2)
    action_id = _enqueue(engine, book, "suspend_subscription", "k-d", SUSPEND)
    assert executor.run_once().retried == 1
    clock.advance(hours=1)
    assert executor.run_once().failed == 1
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("failed", 2)
    (event,) = _audits(engine, "action.failed")
    assert event.data["gave_up_after_attempts"] == 2


def test_a_permanent_failure_fails_the_action_and_is_audited(engine, provider, book):
    with session_scope(engine) as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == book["subscription"])
            .values(provider_subscription_id="00000000-0000-0000-0000-000000000000")
        )
    action_id = _enqueue(engine, book, "suspend_subscription", "k-p", SUSPEND)
    report = _executor(engine, provider).run_once()
    assert report.failed == 1
    action = _action(engine, action_id)
    assert action.status == "failed" and "PermanentProviderError" in action.last_error
    (event,) = _audits(engine, "action.failed")
    assert event.data["permanent"] is True and event.data["policy_version"] == "ab" * 32


def test_a_crash_after_the_effect_is_recovered_without_doubling(engine, provider, book):
    clock = Clock()
    executor = _executor(engine, provider, now=clock)
    action_id = _enqueue(engine, book, "suspend_subscription", "k-x", SUSPEND)
    # A first executor claimed it, suspended at the provider, added the reason, then died.
    with session_scope(engine) as session:
        session.execute(
            update(OutboxAction)
            .where(OutboxAction.id == action_id)
            .values(status="in_progress", attempts=1, claimed_at=T0, updated_at=T0)
        )
        session.add(
            SubscriptionSuspension(
                subscription_id=book["subscription"], reason="non_payment", since=T0
            )
        )
    provider.set_subscription_status(book["tenant"], book["sub"], "suspended")

    assert executor.run_once().claimed == 0  # the lease (5 minutes) has not expired
    clock.advance(minutes=6)
    report = executor.run_once()
    assert (report.recovered, report.done) == (1, 1)
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("done", 2)
    assert action.result["reason_added"] is False
    assert _reasons(engine, book["subscription"]) == ["non_payment"]
    assert _provider_status(provider, book) == "suspended"
    assert len(_audits(engine, "action.recovered")) == 1


# --------------------------------------------------------------------------- other effects
