# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""Collections runs: fraud holds, crashes, the blast radius, approval, dry runs, exemptions.

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
from riskdesk.app.bootstrap import bootstrap
from riskdesk.app.outbox import ActionStatus, list_actions
from riskdesk.book.payments import record_payment
from riskdesk.collections.policy import load_policy, parse_policy
from riskdesk.collections.run import run_collections
from riskdesk.config import Settings
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


def test_a_subscription_held_for_fraud_stays_suspended_after_payment(
    engine, policy, book, provider, smtp
):
    collect(engine, policy, date(2026, 3, 5))
    execute(engine, provider, smtp, date(2026, 3, 5))
    with session_scope(engine) as session:
        session.add(
            SubscriptionSuspension(
                subscription_id=book["subscription"],
                reason="fraud_investigation",
                since=datetime(2026, 3, 5, tzinfo=UTC),
                note="GPU burst",
            )
        )
        record_payment(
            session,
            customer_id=book["customer"],
            reference="PAY-2",
            received_on=date(2026, 3, 6),
            amount=Money("1550.25", "EUR"),
        )
    collect(engine, policy, date(2026, 3, 6), customer_ids=[book["customer"]])
    execute(engine, provider, smtp, date(2026, 3, 6))
    assert provider_status(provider, book) == "suspended"
    with session_scope(engine) as session:
        reasons = session.scalars(
            select(SubscriptionSuspension.reason).where(
                SubscriptionSuspension.subscription_id == book["subscription"]
            )
        ).all()
    assert reasons == ["fraud_investigation"]


def test_a_crash_between_planning_and_acting_is_finished_once(
    engine, policy, book, provider, smtp, monkeypatch
):
    day = date(2026, 3, 5)  # straight to suspended: notice, order block, suspension

    # A failure inside the deciding transaction writes nothing at all ...
    def boom(*args, **kwargs):
        raise RuntimeError("killed while planning")

    monkeypatch.setattr(audit, "record_many", boom)
    with pytest.raises(RuntimeError):
        collect(engine, policy, day)
    monkeypatch.undo()
    assert actions(engine) == [] and stage_of(engine, book["customer"]) is None

    # ... a crash after planning (committed) and before acting loses nothing:
    first = collect(engine, policy, day)
    planned = len(actions(engine))
    assert first.enqueued == planned > 0
    again = collect(engine, policy, day)  # the next run plans nothing new
    assert again.enqueued == 0 and len(actions(engine)) == planned
    execute(engine, provider, smtp, day)
    execute(engine, provider, smtp, day)
    assert len(smtp.inbox.messages) == 1
    assert {a.status for a in actions(engine)} == {"done"}
    with session_scope(engine) as session:
        holds = session.scalar(
            select(func.count())
            .select_from(SubscriptionSuspension)
            .where(SubscriptionSuspension.subscription_id == book["subscription"])
        )
    assert holds == 1 and provider_status(provider, book) == "suspended"


def test_blast_radius_stops_every_suspension_and_raises_an_alert(engine, book):
    from book_builders import customer, invoice

    with session_scope(engine) as session:
        other = customer(session, "Second Late Payer")
        invoice(session, other, "INV-9001", "80.00", date(2026, 1, 1), date(2026, 1, 20))
        other_id = other.id
    policy = variant(max_suspensions_per_run=1)  # two customers reach suspension at once
    report = collect(engine, policy, date(2026, 3, 5))
    assert report.alert
    assert actions(engine, kind="suspend_subscription") == []
    assert stage_of(engine, book["customer"]) is None  # left as it was, to be decided again
    assert stage_of(engine, other_id) is None
    assert report.by_stage == {}  # the report counts them where they stay, not where they'd go

    # A person checks the facts and lets this one run proceed.
    report = collect(engine, policy, date(2026, 3, 5), max_suspensions=2, actor="j.doe")
    assert report.alert is None and report.by_stage == {"suspended": 2}
    assert stage_of(engine, book["customer"]) == "suspended"
    assert len(actions(engine, kind="suspend_subscription")) == 1  # the one known subscription
    with session_scope(engine) as session:
        run = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "collections.run").order_by(AuditEvent.id)
        ).all()[-1]
    assert run.actor == "j.doe" and run.data["max_suspensions_override"] == 2


def test_a_large_suspension_waits_for_approval(engine, book, provider, smtp):
    policy = variant(approval_threshold=1000)
    report = collect(engine, policy, date(2026, 3, 5))
    waiting = actions(engine, kind="suspend_subscription")
    assert [a.status for a in waiting] == ["awaiting_approval"]
    # The whole step waits (notice, suspension), and the report says how much does.
    assert report.awaiting_approval == len(actions(engine, status="awaiting_approval")) == 2
    execute(engine, provider, smtp, date(2026, 3, 5))
    assert provider_status(provider, book) == "active"


def test_a_currency_without_a_threshold_says_so_where_a_person_looks(engine, book):
    """EUR has no approval threshold here (only GBP does): every EUR suspension waits, and the
    run and the outbox say that, not "over the approval threshold"."""
    policy = variant(approval_threshold="{GBP: 1000}")
    report = collect(engine, policy, date(2026, 3, 5))
    why = "no approval threshold is set for EUR, so every suspension"
    assert report.approval_reason.startswith(why)
    assert "over the approval threshold" not in report.approval_reason
    url = engine.url.render_as_string(hide_password=False)
    deps = bootstrap(Settings(database_url=url))
    try:
        rows = list_actions(deps, status=ActionStatus.AWAITING_APPROVAL)
    finally:
        deps.close()
    assert rows and all(r.why.startswith(why) for r in rows)


def test_dry_run_changes_nothing(engine, policy, book):
    report = collect(engine, policy, date(2026, 3, 5), dry_run=True)
    assert report.enqueued > 0 and [d.stage for d in report.decisions] == ["suspended"]
    assert actions(engine) == [] and stage_of(engine, book["customer"]) is None


def test_exemption_and_promise_to_pay(engine, policy, book):
    with session_scope(engine) as session:
        session.add(
            PromiseToPay(
                customer_id=book["customer"],
                promised_on=date(2026, 3, 1),
                due_on=date(2026, 3, 10),
                amount=Decimal("1550.25"),
                currency="EUR",
                status="active",
                created_by="collector",
                created_at=datetime.now(UTC),
            )
        )
    collect(engine, policy, date(2026, 2, 24))
    assert stage_of(engine, book["customer"]) == "final_notice"
    collect(engine, policy, date(2026, 3, 5))  # promise holds escalation
    assert stage_of(engine, book["customer"]) == "final_notice"
    collect(engine, policy, date(2026, 3, 11))  # promise date passed
    assert stage_of(engine, book["customer"]) == "suspended"
