# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""What each notice says: decided when it is planned, kept with its action, exactly what it is
about; the reinstatement notice once access is restored, after the reactivation it confirms.

The book (see outbox_fixtures.book): one EUR customer with one active seat subscription known
to the sandbox, invoices INV-7001 (1,200.00, due 2026-01-31) and INV-7002 (350.25, due
2026-03-03). Reminder on 10 February, suspension on 5 March under the standard policy.
"""

from __future__ import annotations

from datetime import date, datetime

from book_builders import invoice
from mail_helpers import free_port
from outbox_fixtures import _enqueue, book, provider, sandbox, smtp
from riskdesk.book.payments import record_payment
from riskdesk.collections.policy import parse_policy
from riskdesk.db.engine import session_scope
from riskdesk.db.models import Customer, Subscription, SubscriptionSuspension
from riskdesk.money import Money
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter
from run_helpers import TIERED, actions, at, collect, execute, policy, provider_status

REMINDER_DAY = date(2026, 2, 10)
SUSPENDED_DAY = date(2026, 3, 5)
PAY_DAY = date(2026, 3, 6)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def suspend_and_notify(engine, policy, provider, smtp):
    collect(engine, policy, SUSPENDED_DAY)
    execute(engine, provider, smtp, SUSPENDED_DAY)


def pay_and_collect(engine, policy, book, day):
    """Everything open paid on `day`, and that day's run."""
    with session_scope(engine) as session:
        record_payment(
            session,
            customer_id=book["customer"],
            reference=f"PAY-{day}",
            received_on=day,
            amount=Money("1550.25", "EUR"),
        )
    collect(engine, policy, day)


def add_consumption_subscription(engine, sandbox, book) -> str:
    """The customer's second sandbox subscription, in the book as pay-as-you-go."""
    other = next(
        s for s in sandbox.state.subscriptions[book["tenant"]].values() if s.id != book["sub"]
    )
    with session_scope(engine) as session:
        session.add(
            Subscription(
                customer_id=book["customer"],
                provider_subscription_id=other.id,
                offer_id=other.offer_id,
                offer_name="Azure plan",
                kind="consumption",
                quantity=1,
                currency="EUR",
                billing_cycle="monthly",
                provider_status="active",
                created_on=date(2025, 1, 1),
            )
        )
    return other.id


def test_a_reminder_lists_only_the_invoices_past_their_due_date(
    engine, policy, book, provider, smtp
):
    collect(engine, policy, REMINDER_DAY)
    execute(engine, provider, smtp, REMINDER_DAY)
    (reminder,) = smtp.inbox.messages
    text = text_of(reminder)
    assert "INV-7001" in text and "Total open: 1,200.00 EUR" in text
    assert "INV-7002" not in text  # open, but not due until 3 March


def test_what_a_notice_says_is_decided_when_it_is_planned(engine, policy, book, provider, smtp):
    collect(engine, policy, REMINDER_DAY)
    (notice,) = actions(engine, kind="notify_email")
    kept = notice.payload["notice"]
    assert [i["number"] for i in kept["invoices"]] == ["INV-7001"]
    assert kept["invoices"][0]["open_amount"] == "1200.00"
    # The book changes before the executor sends it: the customer is told what was decided.
    with session_scope(engine) as session:
        customer = session.get(Customer, book["customer"])
        invoice(session, customer, "INV-6999", "80.00", date(2025, 12, 1), date(2025, 12, 31))
    execute(engine, provider, smtp, REMINDER_DAY)
    text = text_of(smtp.inbox.messages[0])
    assert "INV-7001" in text and "INV-6999" not in text
    (sent,) = actions(engine, kind="notify_email")
    assert sent.result["invoices"] == ["INV-7001"]


def test_a_suspension_notice_names_the_subscriptions_suspended_when_only_some_are(
    engine, book, sandbox, provider, smtp
):
    # TIERED: after 30 days only consumption is suspended (and the customer told so).
    payg = add_consumption_subscription(engine, sandbox, book)
    tiered = parse_policy(TIERED, source="tiered.yaml")
    collect(engine, tiered, SUSPENDED_DAY)
    execute(engine, provider, smtp, SUSPENDED_DAY)
    (notice,) = smtp.inbox.messages
    text = text_of(notice)
    assert f"Azure plan (subscription {payg})" in text
    assert book["sub"] not in text
    assert (
        "these of your cloud subscriptions" in text
        and "other subscriptions are not affected" in text
    )
    assert notice["Subject"] == "A subscription has been suspended for non-payment"
    assert "INV-7001" in text and "INV-7002" in text  # both past their due date


def test_a_suspension_of_every_subscription_says_all(engine, policy, book, provider, smtp):
    collect(engine, policy, SUSPENDED_DAY)
    (notice,) = actions(engine, kind="notify_email")
    assert notice.payload["notice"]["all_subscriptions"] is True
    execute(engine, provider, smtp, SUSPENDED_DAY)
    text = text_of(smtp.inbox.messages[-1])
    assert "suspended all your cloud subscriptions" in text
    assert "and confirm it by e-mail" in text  # the standard policy sends the confirmation


def test_paying_restores_access_and_says_so_after_the_reactivation(
    engine, policy, book, provider, smtp
):
    suspend_and_notify(engine, policy, provider, smtp)
    pay_and_collect(engine, policy, book, PAY_DAY)
    execute(engine, provider, smtp, PAY_DAY)
    assert provider_status(provider, book) == "active"
    confirmation = smtp.inbox.messages[-1]
    assert confirmation["Subject"] == "A subscription has been reinstated"
    text = text_of(confirmation)
    assert f"(subscription {book['sub']})" in text and "no open invoices" in text
    (reactivation,) = actions(engine, kind="reactivate_subscription")
    notice = actions(engine, kind="notify_email")[-1]
    assert notice.payload["after"] == [reactivation.idempotency_key]
    assert notice.status == "done" and reactivation.status == "done"


def test_no_reinstatement_notice_while_another_hold_keeps_the_subscription_suspended(
    engine, policy, book, provider, smtp
):
    suspend_and_notify(engine, policy, provider, smtp)
    with session_scope(engine) as session:
        session.add(
            SubscriptionSuspension(
                subscription_id=book["subscription"],
                reason="fraud_investigation",
                since=at(SUSPENDED_DAY),
            )
        )
    pay_and_collect(engine, policy, book, PAY_DAY)
    assert [a.payload["template"] for a in actions(engine, kind="notify_email")] == ["suspended"]
    execute(engine, provider, smtp, PAY_DAY)
    assert provider_status(provider, book) == "suspended"
    assert len(smtp.inbox.messages) == 1  # nothing was given back, so nothing is said


def test_the_reinstatement_notice_waits_while_the_provider_cannot_reactivate(
    engine, policy, book, provider, smtp
):
    from riskdesk.actions.executor import Executor
    from riskdesk.app.bootstrap import action_registry
    from riskdesk.notify.mail import SmtpMailer

    suspend_and_notify(engine, policy, provider, smtp)
    pay_and_collect(engine, policy, book, PAY_DAY)
    unreachable = PartnerCenter(
        StaticToken("t"),
        base_url=f"http://127.0.0.1:{free_port()}",
        backoff_base=0.01,
        max_attempts=1,
    )
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="collections@reseller.example")
    report = Executor(
        engine, unreachable, mailer, registry=action_registry(), now=lambda: at(PAY_DAY)
    ).run_once()
    assert {o.kind: o.status for o in report.outcomes} == {
        "reactivate_subscription": "retry",
        "notify_email": "deferred",
    }
    assert report.retried == 2 and report.failed == 0  # "to retry later", both of them
    notice = actions(engine, kind="notify_email")[-1]
    assert notice.status == "pending" and notice.attempts == 0
    assert len(smtp.inbox.messages) == 1  # only the suspension notice
    # The provider is back the next day: the reactivation goes first, then the notice.
    execute(engine, provider, smtp, date(2026, 3, 7))
    assert provider_status(provider, book) == "active"
    assert smtp.inbox.messages[-1]["Subject"] == "A subscription has been reinstated"


def test_a_notice_planned_before_notices_kept_their_content_reads_the_book(
    engine, book, provider, smtp
):
    _enqueue(
        engine,
        book,
        "notify_email",
        "legacy:1",
        {"template": "reminder", "as_of": "2026-02-10"},
        subscription_id=None,
        now=at(REMINDER_DAY),
    )
    execute(engine, provider, smtp, REMINDER_DAY)
    text = text_of(smtp.inbox.messages[0])
    assert "INV-7001" in text and "INV-7002" not in text
