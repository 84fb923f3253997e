# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""Notices carried out by the executor against a real SMTP server: once, retried, held when
the delivery is uncertain."""

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
from riskdesk.db.models import (
    AuditEvent,
    Customer,
    OutboxAction,
    Subscription,
    SubscriptionSuspension,
)
from riskdesk.notify.mail import SmtpMailer
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter


def test_a_notice_reaches_the_smtp_server_once(engine, provider, book, smtp):
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="ar@reseller.example", timeout=5)
    executor = _executor(engine, provider, mailer)
    action_id = _enqueue(engine, book, "notify_email", "collections:1:reminder", REMINDER,
                         subscription_id=None)  # fmt: skip
    assert executor.run_once().done == 1
    assert executor.run_once().claimed == 0  # done is never sent again
    (message,) = smtp.inbox.messages
    action = _action(engine, action_id)
    assert message["Message-ID"] == action.result["message_id"]
    assert "collections.1.reminder" in message["Message-ID"]
    assert message["To"] == "billing@fabrikam.example"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Fabrikam Ltd" in part
        assert "INV-7001" in part and "1,200.00 EUR" in part and "45" in part
        assert "INV-7002" in part and "350.25 EUR" in part and "14" in part
        assert "1,550.25 EUR" in part
    assert action.result["invoices"] == ["INV-7001", "INV-7002"]


def test_an_unreachable_mail_server_is_retried(engine, provider, book, smtp):
    clock = Clock()
    dead = SmtpMailer("127.0.0.1", free_port(), sender="ar@reseller.example", timeout=2)
    action_id = _enqueue(engine, book, "notify_email", "k-m", REMINDER, subscription_id=None)
    assert _executor(engine, provider, dead, now=clock).run_once().retried == 1
    action = _action(engine, action_id)
    assert (action.status, action.effect_started_at) == ("pending", None)
    clock.advance(minutes=1)
    live = SmtpMailer("127.0.0.1", smtp.port, sender="ar@reseller.example", timeout=5)
    assert _executor(engine, provider, live, now=clock).run_once().done == 1
    assert len(smtp.inbox.messages) == 1


def _crashed_while_sending(engine, action_id):
    with session_scope(engine) as session:
        session.execute(
            update(OutboxAction)
            .where(OutboxAction.id == action_id)
            .values(status="in_progress", attempts=1, claimed_at=T0, effect_started_at=T0)
        )


def test_a_crash_while_sending_holds_the_mail_for_a_person(engine, provider, book, smtp):
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="ar@reseller.example", timeout=5)
    clock = Clock(T0 + timedelta(minutes=10))
    executor = _executor(engine, provider, mailer, now=clock)
    action_id = _enqueue(engine, book, "notify_email", "k-h", REMINDER, subscription_id=None)
    _crashed_while_sending(engine, action_id)
    report = executor.run_once()
    assert (report.held, report.claimed) == (1, 0)
    action = _action(engine, action_id)
    assert action.status == "awaiting_approval" and "uncertain" in action.last_error
    assert smtp.inbox.messages == []  # no second e-mail without a person
    assert len(_audits(engine, "action.uncertain")) == 1
    with session_scope(engine) as session:
        outbox.approve(session, action_id, "carol", now=clock())
    assert executor.run_once().done == 1
    (message,) = smtp.inbox.messages
    assert message["Message-ID"] == _action(engine, action_id).result["message_id"]


def test_resend_mode_repeats_the_same_message_id(engine, provider, book, smtp):
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="ar@reseller.example", timeout=5)
    first = _executor(engine, provider, mailer, now=Clock())
    first_id = _enqueue(engine, book, "notify_email", "k-first", REMINDER, subscription_id=None)
    first.run_once()
    executor = _executor(engine, provider, mailer, on_uncertain_email="resend",
                         now=Clock(T0 + timedelta(minutes=10)))  # past the lease  # fmt: skip
    action_id = _enqueue(engine, book, "notify_email", "k-first-again", REMINDER,
                         subscription_id=None)  # fmt: skip
    _crashed_while_sending(engine, action_id)
    report = executor.run_once()
    assert (report.recovered, report.held, report.done) == (1, 0, 1)
    result = _action(engine, action_id).result
    assert result["resent_after_uncertain_attempt"] is True
    ids = [m["Message-ID"] for m in smtp.inbox.messages]
    assert ids == [_action(engine, first_id).result["message_id"], result["message_id"]]


def test_a_customer_without_an_address_fails_clearly(engine, provider, book):
    with session_scope(engine) as session:
        session.get(Customer, book["customer"]).billing_email = None
    action_id = _enqueue(engine, book, "notify_email", "k-n", REMINDER, subscription_id=None)
    assert _executor(engine, provider).run_once().failed == 1
    assert "no billing e-mail address" in _action(engine, action_id).last_error


def test_a_reply_lost_after_the_mail_data_holds_the_notice_for_a_person(engine, provider, book):
    from test_notify import ForgetfulSmtpServer  # a real SMTP socket server that loses a reply

    clock = Clock()
    with ForgetfulSmtpServer(after_data="hang_up") as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="ar@reseller.example", timeout=2)
        executor = _executor(engine, provider, mailer, now=clock)
        action_id = _enqueue(engine, book, "notify_email", "k-lost", REMINDER, subscription_id=None)
        report = executor.run_once()
        assert [o.status for o in report.outcomes] == ["held"] and report.held == 1
        (sent,) = server.messages  # the server kept the message; the executor never heard so
        mid = sent["Message-ID"]
        action = _action(engine, action_id)
        assert action.status == "awaiting_approval" and action.effect_started_at is not None
        assert action.last_error.startswith("delivery uncertain")
        assert "mailbox" in action.last_error and mid in action.last_error
        (event,) = _audits(engine, "action.uncertain")
        assert event.data["message_id"] == mid and event.data["key"] == "k-lost"

        clock.advance(hours=6)  # no retry, no recovery: nothing is sent twice without a person
        report = executor.run_once()
        assert (report.claimed, report.recovered, report.held) == (0, 0, 0)
        assert len(server.received) == 1

        with session_scope(engine) as session:  # a person checked the mailbox: resend
            outbox.approve(session, action_id, "carol", now=clock())
        assert executor.run_once().done == 1
        assert [m["Message-ID"] for m in server.messages] == [mid, mid]
        assert _action(engine, action_id).status == "done"


def test_resend_mode_retries_a_notice_whose_reply_was_lost(engine, provider, book):
    from test_notify import ForgetfulSmtpServer

    clock = Clock()
    with ForgetfulSmtpServer(after_data="silence") as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="ar@reseller.example", timeout=1)
        executor = _executor(engine, provider, mailer, now=clock, on_uncertain_email="resend")
        action_id = _enqueue(engine, book, "notify_email", "k-again", REMINDER,
                             subscription_id=None)  # fmt: skip
        assert executor.run_once().retried == 1
        action = _action(engine, action_id)
        assert action.status == "pending" and action.effect_started_at is not None
        clock.advance(hours=1)
        assert executor.run_once().done == 1
        assert _action(engine, action_id).result["resent_after_uncertain_attempt"] is True
        assert len({m["Message-ID"] for m in server.messages}) == 1 == len(server.received) - 1
