# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""Collections end to end on a small hand-built book: the shipped policy, the outbox, the
executor against the sandbox over HTTP, notices to a real SMTP server; SQLite and PostgreSQL.

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


def test_each_stage_is_entered_on_its_day_and_acted_on(engine, policy, book, provider, smtp):
    customer = book["customer"]
    days = {
        date(2026, 2, 9): None,
        date(2026, 2, 10): "reminder",
        date(2026, 2, 23): "reminder",
        date(2026, 2, 24): "final_notice",
        date(2026, 3, 4): "final_notice",
        date(2026, 3, 5): "suspended",
    }
    for day, expected in days.items():
        collect(engine, policy, day)
        assert stage_of(engine, customer) == expected, day
        report = execute(engine, provider, smtp, day)
        assert report.failed == 0
    kinds = [a.kind for a in actions(engine)]
    assert kinds.count("notify_email") == 3  # reminder, final notice, suspended
    assert "suspend_subscription" in kinds
    assert provider_status(provider, book) == "suspended"
    subjects = [m["Subject"] for m in smtp.inbox.messages]
    assert len(subjects) == 3
    reminder = smtp.inbox.messages[0]
    text = reminder.get_body(("plain",)).get_content()
    assert "INV-7001" in text and "1,200.00" in text
    assert reminder["To"] == "billing@fabrikam.example"


def test_payment_reinstates_at_once_but_not_a_fraud_hold(engine, policy, book, provider, smtp):
    suspended_day = date(2026, 3, 5)
    collect(engine, policy, suspended_day)
    execute(engine, provider, smtp, suspended_day)
    assert provider_status(provider, book) == "suspended"

    with session_scope(engine) as session:
        record_payment(
            session,
            customer_id=book["customer"],
            reference="PAY-1",
            received_on=date(2026, 3, 6),
            amount=Money("1550.25", "EUR"),
        )
    collect(engine, policy, date(2026, 3, 6), customer_ids=[book["customer"]])
    assert stage_of(engine, book["customer"]) is None
    assert [a.kind for a in actions(engine, kind="reactivate_subscription")]
    execute(engine, provider, smtp, date(2026, 3, 6))
    assert provider_status(provider, book) == "active"


def test_orders_are_blocked_with_the_stage_and_unblocked_with_payment(
    engine, policy, book, provider, smtp
):
    customer = book["customer"]
    collect(engine, policy, date(2026, 2, 10))  # reminder: orders still allowed
    assert orders_blocked(engine, customer) is False
    collect(engine, policy, date(2026, 2, 24))  # final notice blocks new orders at once
    assert orders_blocked(engine, customer) is True
    assert not [a for a in actions(engine) if "block" in a.kind]  # no action needed for it
    with session_scope(engine) as session:
        record_payment(
            session,
            customer_id=customer,
            reference="PAY-B",
            received_on=date(2026, 2, 25),
            amount=Money("1550.25", "EUR"),
        )
    collect(engine, policy, date(2026, 2, 25), customer_ids=[customer])
    assert stage_of(engine, customer) is None and orders_blocked(engine, customer) is False
    events = stage_events(engine, customer)
    assert [(e["to"], e["orders_blocked"]) for e in events] == [
        ("reminder", False),
        ("final_notice", True),
        (None, False),
    ]


def test_each_action_is_audited_with_the_facts_of_its_transition(
    engine, policy, book, provider, smtp
):
    day = date(2026, 3, 5)
    collect(engine, policy, day)
    (transition,) = stage_events(engine, book["customer"])
    assert transition["facts"]["days_past_due"] == 30  # due 31 Jan, 3 grace days
    assert transition["facts"]["overdue_amount"] == {"amount": "1550.25", "currency": "EUR"}
    planned = actions(engine)
    assert {a.payload["transition"] for a in planned} == {transition["transition"]}
    assert all(a.idempotency_key.startswith(transition["transition"] + ":") for a in planned)
    execute(engine, provider, smtp, day)
    with session_scope(engine) as session:
        done = session.scalars(
            select(AuditEvent.data).where(AuditEvent.action == "action.done")
        ).all()
    assert len(done) == len(planned) > 1
    for data in done:
        assert data["facts"] == transition["facts"]
        assert data["policy_version"] == policy.version


def test_write_off_review_opens_a_case_a_person_closes(
    database_url, engine, policy, book, provider, smtp
):
    from test_cli_collections import invoke

    day = date(2026, 5, 5)  # INV-7001 is 94 days past due: 91 after grace
    collect(engine, policy, day)
    assert stage_of(engine, book["customer"]) == "write_off_review"
    execute(engine, provider, smtp, day)
    listed = invoke(database_url, "cases", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (case,) = json.loads(listed.output)
    assert (case["customer"], case["kind"], case["status"]) == (
        "Fabrikam Ltd",
        "collections_review",
        "open",
    )
    assert "write_off_review" in case["title"]
    collect(engine, policy, date(2026, 5, 6))  # the next day's run opens nothing new
    execute(engine, provider, smtp, date(2026, 5, 6))
    assert len(json.loads(invoke(database_url, "cases", "list", "--json").output)) == 1

    anonymous = invoke(database_url, "cases", "close", str(case["id"]), "--resolution", "x")
    assert anonymous.exit_code == 2  # --by is required
    closed = invoke(
        database_url, "cases", "close", str(case["id"]), "--by", "j.doe",
        "--resolution", "sent to the debt collector",
    )  # fmt: skip
    assert closed.exit_code == 0, closed.output
    (after,) = json.loads(invoke(database_url, "cases", "list", "--status", "all", "--json").output)
    assert after["status"] == "closed" and after["resolution"] == "sent to the debt collector"
    assert json.loads(invoke(database_url, "cases", "list", "--json").output) == []


def test_a_run_reports_actions_left_in_progress_by_a_stopped_executor(engine, policy, book):
    """A killed executor leaves its suspension `in_progress` until the lease ends: the next run
    says so (how many, since when) instead of looking as if nothing were under way."""
    collect(engine, policy, date(2026, 3, 5))
    claimed = at(date(2026, 3, 5))
    with session_scope(engine) as session:
        suspension = session.scalars(
            select(OutboxAction).where(OutboxAction.kind == "suspend_subscription")
        ).one()
        suspension.status = "in_progress"  # what a claim leaves when its process is killed
        suspension.claimed_at = claimed
    report = collect(engine, policy, date(2026, 3, 5), dry_run=True)
    assert (report.in_progress, report.in_progress_since) == (1, claimed)
    with session_scope(engine) as session:
        session.get(OutboxAction, suspension.id).status = "done"
    assert collect(engine, policy, date(2026, 3, 5), dry_run=True).in_progress == 0
