# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""Collections runs and the executor with customers that move on: actions made stale by a
later transition are cancelled or skipped, never carried out against the wrong state.

The book (see outbox_fixtures.book): one EUR customer with one active seat subscription known
to the sandbox, invoices INV-7001 (1,200.00, due 2026-01-31) and INV-7002 (350.25, due
2026-03-03). The standard policy has 3 grace days: reminder from 10 days after the due day,
final notice from 24, suspension from 33.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outbox_fixtures import Clock, book, provider, sandbox, smtp
from riskdesk import audit
from riskdesk.book.payments import record_payment
from riskdesk.collections.policy import load_policy, parse_policy
from riskdesk.collections.run import run_collections
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    AuditEvent,
    CollectionState,
    OutboxAction,
    PromiseToPay,
    SubscriptionSuspension,
)
from riskdesk.money import Money
from riskdesk.notify.mail import SmtpMailer
from run_helpers import (
    STANDARD,
    TIERED,
    actions,
    at,
    collect,
    execute,
    orders_blocked,
    policy,
    provider_status,
    stage_events,
    stage_of,
    variant,
)


def test_stepping_down_between_suspending_stages_lifts_only_what_the_lower_one_lifts(
    engine, book, provider, smtp
):
    tiered = parse_policy(TIERED, source="tiered.yaml")
    customer = book["customer"]
    day = date(2026, 4, 5)  # INV-7001 64 days past due: everything stopped
    collect(engine, tiered, day)
    execute(engine, provider, smtp, day)
    assert stage_of(engine, customer) == "all_stopped"
    assert provider_status(provider, book) == "suspended"  # the seat subscription
    with session_scope(engine) as session:
        record_payment(
            session, customer_id=customer, reference="PAY-T", received_on=day,
            amount=Money("1200.00", "EUR"), applies_to=("INV-7001",),
        )  # fmt: skip
    # INV-7002 is 33 days past due: only usage stays stopped; the seat comes back.
    report = collect(engine, tiered, day, customer_ids=[customer])
    assert [d.stage for d in report.transitions] == ["usage_stopped"]
    lifts = actions(engine, kind="reactivate_subscription")
    assert [(a.payload["scope"], a.payload["keep"]) for a in lifts] == [
        ({"kind": "seat"}, [{"kind": "consumption"}])
    ]
    execute(engine, provider, smtp, day)
    assert provider_status(provider, book) == "active"


def test_leaving_and_re_entering_suspension_on_one_day_suspends_again(
    engine, policy, book, provider, smtp
):
    from book_builders import invoice
    from riskdesk.db.models import Customer

    customer, day = book["customer"], date(2026, 3, 5)
    collect(engine, policy, day)
    execute(engine, provider, smtp, day)
    assert provider_status(provider, book) == "suspended"
    with session_scope(engine) as session:  # morning: the oldest invoice is paid
        record_payment(
            session, customer_id=customer, reference="P-AM", received_on=day,
            amount=Money("1200.00", "EUR"), applies_to=("INV-7001",),
        )  # fmt: skip
    collect(engine, policy, day, customer_ids=[customer])
    execute(engine, provider, smtp, day)
    assert stage_of(engine, customer) is None and provider_status(provider, book) == "active"
    with session_scope(engine) as session:  # afternoon: a missed older invoice is imported
        invoice(session, session.get(Customer, customer), "INV-6999", "800.00",
                date(2025, 12, 15), date(2026, 1, 15))  # fmt: skip
    again = collect(engine, policy, day)
    assert [d.stage for d in again.transitions] == ["suspended"] and again.enqueued > 0
    execute(engine, provider, smtp, day)
    assert stage_of(engine, customer) == "suspended"
    assert provider_status(provider, book) == "suspended"  # the book and the provider agree


def test_a_suspension_approved_after_the_customer_paid_is_not_carried_out(
    database_url, engine, book, provider, smtp
):
    from riskdesk.actions import outbox

    policy = variant(approval_threshold=1000)
    collect(engine, policy, date(2026, 3, 5))
    waiting = actions(engine, status="awaiting_approval")
    assert {a.kind for a in waiting} == {"notify_email", "suspend_subscription"}
    with session_scope(engine) as session:
        record_payment(
            session, customer_id=book["customer"], reference="P-1",
            received_on=date(2026, 3, 6), amount=Money("1550.25", "EUR"),
        )  # fmt: skip
    collect(engine, policy, date(2026, 3, 6), customer_ids=[book["customer"]])
    # The payment's transition cancelled what waited: nobody can approve a stale suspension.
    assert actions(engine, status="awaiting_approval") == []
    stale = [a for a in actions(engine) if a.id in {w.id for w in waiting}]
    assert {a.status for a in stale} == {"cancelled"}
    assert all("superseded by" in a.last_error for a in stale)
    from test_cli_collections import invoke

    listed = invoke(database_url, "outbox", "list", "--status", "cancelled")
    assert listed.exit_code == 0 and "superseded by" in listed.output  # the operator sees why
    with session_scope(engine) as session, pytest.raises(outbox.ActionStateError):
        outbox.approve(session, waiting[0].id, "alice")
    execute(engine, provider, smtp, date(2026, 3, 6))
    assert provider_status(provider, book) == "active" and smtp.inbox.messages == []


def test_a_suspension_retried_after_the_customer_paid_is_skipped(
    engine, policy, book, provider, smtp
):
    day = date(2026, 3, 5)
    collect(engine, policy, day)
    (suspend,) = actions(engine, kind="suspend_subscription")
    # The executor claimed it and the provider failed; it waits for a retry, in progress.
    with session_scope(engine) as session:
        session.get(OutboxAction, suspend.id).status = "in_progress"
        session.get(OutboxAction, suspend.id).attempts = 1
        session.get(OutboxAction, suspend.id).claimed_at = at(day)
        record_payment(
            session, customer_id=book["customer"], reference="P-2",
            received_on=day, amount=Money("1550.25", "EUR"),
        )  # fmt: skip
    collect(engine, policy, day, customer_ids=[book["customer"]])  # in progress: not cancelled
    assert stage_of(engine, book["customer"]) is None
    from riskdesk.actions.executor import Executor
    from riskdesk.app.bootstrap import action_registry

    later = Clock(datetime(2026, 3, 5, 12, tzinfo=UTC))  # the lease has run out: retried
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="collections@reseller.example")
    Executor(engine, provider, mailer, registry=action_registry(), now=later).run_once()
    with session_scope(engine) as session:
        retried = session.get(OutboxAction, suspend.id)
        assert retried.status == "done" and "not held for non-payment" in retried.result["skipped"]
    assert provider_status(provider, book) == "active"


def test_a_policy_that_dropped_a_stage_customers_are_in_is_refused(engine, policy, book):
    from riskdesk.collections.run import UnknownStageError

    collect(engine, policy, date(2026, 3, 5))
    before = len(actions(engine))
    renamed = parse_policy(
        STANDARD.read_text().replace("name: suspended", "name: suspension"), source="renamed.yaml"
    )
    with pytest.raises(UnknownStageError, match=r"no stage 'suspended' \(1 customers\)"):
        collect(engine, renamed, date(2026, 3, 6))
    assert len(actions(engine)) == before  # no notice sent again, nothing lifted
    assert stage_of(engine, book["customer"]) == "suspended"


def test_a_payment_during_a_whole_book_run_is_not_overwritten(engine, policy, book, monkeypatch):
    import threading
    import time

    from riskdesk.collections import reading
    from riskdesk.collections import run as runs

    customer, day = book["customer"], date(2026, 3, 5)
    collect(engine, policy, date(2026, 3, 4))  # final notice
    read_facts = reading.customer_facts
    errors: list[BaseException] = []

    def pay_and_reevaluate():  # what `payments record` does, from another connection
        try:
            with session_scope(engine) as session:
                record_payment(
                    session, customer_id=customer, reference="PAY-RACE", received_on=day,
                    amount=Money("1550.25", "EUR"),
                )  # fmt: skip
            runs.run_collections(engine, policy, as_of=day, customer_ids=[customer], now=at(day))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    payer = threading.Thread(target=pay_and_reevaluate)

    def facts_then_a_payment_arrives(connection, as_of, ids=None):
        facts = read_facts(connection, as_of, ids)
        if ids is None and not payer.is_alive():  # the whole-book run has read its facts
            payer.start()
            time.sleep(1.0)  # the payment lands (or waits) while the run is still deciding
        return facts

    monkeypatch.setattr(reading, "customer_facts", facts_then_a_payment_arrives)
    whole = runs.run_collections(engine, policy, as_of=day, now=at(day))
    payer.join(timeout=60)
    assert not payer.is_alive() and errors == []
    # The run decided on facts without the payment (suspended) ...
    assert [d.stage for d in whole.transitions] == ["suspended"]
    # ... and the payment's re-evaluation came after it, on facts with the payment.
    assert stage_of(engine, customer) is None
    lifted = actions(engine, kind="reactivate_subscription")
    assert len(lifted) == 1 and lifted[0].status == "pending"


def test_a_waiting_suspension_of_a_scope_the_lower_stage_lifts_is_cancelled(
    engine, book, provider, smtp
):
    text = TIERED.replace("approval_threshold: 1000000", "approval_threshold: 100")
    tiered = parse_policy(text, source="tiered.yaml")
    customer, day = book["customer"], date(2026, 4, 5)
    collect(engine, tiered, day)  # all stopped; everything waits for approval (balance > 100)
    seat = [a for a in actions(engine, kind="suspend_subscription")
            if a.payload["scope"] == {"kind": "seat"}]  # fmt: skip
    assert [a.status for a in seat] == ["awaiting_approval"]
    with session_scope(engine) as session:
        record_payment(
            session, customer_id=customer, reference="PAY-S", received_on=day,
            amount=Money("1200.00", "EUR"), applies_to=("INV-7001",),
        )  # fmt: skip
    collect(engine, tiered, day, customer_ids=[customer])  # down to usage_stopped
    (after,) = [a for a in actions(engine) if a.id == seat[0].id]
    assert after.status == "cancelled" and "no longer suspends this scope" in after.last_error
    # The notice announcing the suspension (usage stays stopped) still waits for approval.
    waiting = [a.kind for a in actions(engine, status="awaiting_approval")]
    assert waiting == ["notify_email"]


def test_escalating_keeps_a_notice_whose_suspensions_still_wait_for_approval(engine, book):
    policy = variant(approval_threshold=1000)
    collect(engine, policy, date(2026, 3, 5))  # suspended: notice and suspension wait
    collect(engine, policy, date(2026, 5, 5))  # write-off review, nobody approved yet
    notices = actions(engine, kind="notify_email")
    assert [(a.payload["stage"], a.status) for a in notices] == [
        ("suspended", "awaiting_approval")
    ]  # kept: once approved, the customer is told before it is suspended


def test_a_run_never_cancels_an_action_an_executor_has_just_carried_out(
    engine, policy, book, monkeypatch
):
    from riskdesk.collections import stale

    collect(engine, policy, date(2026, 2, 10))  # reminder, pending
    (reminder,) = actions(engine, kind="notify_email")
    with session_scope(engine) as session:
        record_payment(
            session, customer_id=book["customer"], reference="PAY-D",
            received_on=date(2026, 2, 11), amount=Money("1550.25", "EUR"),
        )  # fmt: skip
    judge = stale.superseded

    def an_executor_sends_it_meanwhile(kind, payload, **state):
        # Between the run reading the waiting rows and cancelling the stale ones.
        with session_scope(engine) as session:  # what the executor records after sending
            session.get(OutboxAction, reminder.id).status = "done"
        return judge(kind, payload, **state)

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite: the run holds the write lock, no other writer gets in between")
    monkeypatch.setattr(stale, "superseded", an_executor_sends_it_meanwhile)
    collect(engine, policy, date(2026, 2, 11), customer_ids=[book["customer"]])
    (after,) = actions(engine, kind="notify_email")
    assert after.status == "done"  # not overwritten as cancelled
