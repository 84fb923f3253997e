"""The outbox and its executor with real parts: a sandbox over HTTP, an SMTP server, a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from book_builders import invoice
from mail_helpers import SmtpServer, free_port
from riskdesk.actions import outbox
from riskdesk.actions.executor import Executor
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
from riskdesk.providers.sandbox import SandboxState, sample_state, start_sandbox

T0 = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, moment: datetime = T0) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kw) -> None:
        self.moment += timedelta(**kw)


@pytest.fixture
def sandbox():
    state = sample_state(seed=1)
    with start_sandbox(state) as sb:
        yield sb


@pytest.fixture
def provider(sandbox):
    client = PartnerCenter(
        StaticToken(sandbox.token), base_url=sandbox.base_url, backoff_base=0.01, max_attempts=2
    )
    yield client


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def book(engine, sandbox):
    """One riskdesk customer with one active subscription, both known to the sandbox."""
    state: SandboxState = sandbox.state
    for tenant, subs in state.subscriptions.items():
        active = [s for s in subs.values() if str(getattr(s.status, "value", s.status)) == "active"]
        if active:
            break
    sub = active[0]
    with session_scope(engine) as session:
        customer = Customer(
            provider_customer_id=tenant,
            name="Fabrikam Ltd",
            currency="EUR",
            billing_email="billing@fabrikam.example",
            payment_terms_days=30,
            tags=[],
            created_on=date(2025, 1, 1),
        )
        session.add(customer)
        session.flush()
        subscription = Subscription(
            customer_id=customer.id,
            provider_subscription_id=sub.id,
            offer_id=sub.offer_id,
            offer_name=sub.offer_name or "seat",
            kind="seat",
            quantity=1,
            currency="EUR",
            billing_cycle="monthly",
            provider_status="active",
            created_on=date(2025, 1, 1),
        )
        session.add(subscription)
        session.flush()
        invoice(session, customer, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        invoice(session, customer, "INV-7002", "350.25", date(2026, 2, 1), date(2026, 3, 3))
        return {"customer": customer.id, "subscription": subscription.id, "tenant": tenant,
                "sub": sub.id}  # fmt: skip


def _enqueue(engine, book, kind, key, payload=None, **kw):
    with session_scope(engine) as session:
        action = outbox.enqueue(
            session,
            key=key,
            kind=kind,
            customer_id=book["customer"],
            subscription_id=kw.pop("subscription_id", book["subscription"]),
            payload=payload or {},
            now=kw.pop("now", T0),
            **kw,
        )
        return action.id


def _action(engine, action_id) -> OutboxAction:
    with session_scope(engine) as session:
        return session.get(OutboxAction, action_id)


def _reasons(engine, subscription_id) -> list[str]:
    with session_scope(engine) as session:
        return sorted(
            session.scalars(
                select(SubscriptionSuspension.reason).where(
                    SubscriptionSuspension.subscription_id == subscription_id
                )
            )
        )


def _provider_status(provider, book) -> str:
    status = provider.get_subscription(book["tenant"], book["sub"]).status
    return str(getattr(status, "value", status))


def _audits(engine, action) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def _executor(engine, provider, mailer=None, **kw):
    kw.setdefault("now", Clock())
    mailer = mailer or SmtpMailer("127.0.0.1", free_port(), timeout=2)
    return Executor(engine, provider, mailer, **kw)


SUSPEND = {
    "reason": "non_payment",
    "stage": "suspension",
    "policy_version": "ab" * 32,
    "facts": {"days_past_due": 45, "overdue": "1,550.25 EUR"},
}


# --------------------------------------------------------------------------- outbox


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


def _cases(engine, **where):
    from riskdesk.cases import list_cases

    with session_scope(engine) as session:
        found = list_cases(session, status=where.pop("status", None), **where)
        session.expunge_all()
        return found


def test_open_review_case_opens_one_case_per_customer_until_closed(engine, provider, book):
    from riskdesk.cases import close_case

    review = {"reason": "condition", "stage": "write_off_review", "facts": {"days_past_due": 93}}
    first = _enqueue(engine, book, "open_review_case", "k-rc-1", review, subscription_id=None)
    _executor(engine, provider).run_once()
    (case,) = _cases(engine)
    assert (case.customer_id, case.kind, case.status) == (
        book["customer"],
        "collections_review",
        "open",
    )
    assert case.data["facts"] == {"days_past_due": 93} and case.source_key == "k-rc-1"
    assert _action(engine, first).result == {"case_id": case.id, "opened": True}

    # Another request while it is open adds to the same case.
    second = _enqueue(engine, book, "open_review_case", "k-rc-2", review, subscription_id=None)
    _executor(engine, provider).run_once()
    (same,) = _cases(engine)
    assert same.id == case.id and same.data["requests"] == 2
    assert _action(engine, second).result == {"case_id": case.id, "opened": False}

    with session_scope(engine) as session:
        close_case(session, case.id, by="j.doe", resolution="payment plan agreed")
    third = _enqueue(engine, book, "open_review_case", "k-rc-3", review, subscription_id=None)
    _executor(engine, provider).run_once()
    assert [c.status for c in _cases(engine)] == ["closed", "open"]
    assert _action(engine, third).result["opened"] is True
    assert [e.action for e in _audits(engine, "case.opened")] == ["case.opened"] * 2
    assert _audits(engine, "case.closed")[0].data["resolution"] == "payment plan agreed"


def test_closing_a_case_needs_an_open_case_and_a_resolution(engine, book):
    from riskdesk.cases import CaseStateError, close_case, open_case
    from riskdesk.errors import NotFoundError, RiskdeskError

    with session_scope(engine) as session:
        case, opened = open_case(
            session, customer_id=book["customer"], kind="collections_review", title="t", by="me"
        )
        case_id = case.id
    assert opened
    with session_scope(engine) as session, pytest.raises(RiskdeskError, match="resolved"):
        close_case(session, case_id, by="me", resolution="  ")
    with session_scope(engine) as session:
        close_case(session, case_id, by="me", resolution="written off")
    with session_scope(engine) as session, pytest.raises(CaseStateError, match="closed, not open"):
        close_case(session, case_id, by="me", resolution="again")
    with session_scope(engine) as session, pytest.raises(NotFoundError, match="case 999"):
        close_case(session, 999, by="me", resolution="x")


def test_webhook_posts_json_with_the_idempotency_key(engine, provider, book):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["Idempotency-Key"], request.read()))
        return httpx.Response(204)

    client = httpx.Client(transport=httpx.MockTransport(handler))

    def webhook(url, payload, key, timeout=10.0):
        from riskdesk.notify.webhook import post_webhook

        return post_webhook(url, payload, key, timeout, client=client)

    action_id = _enqueue(engine, book, "webhook", "k-w", {"url": "https://hooks.example/x"})
    _executor(engine, provider, webhook=webhook).run_once()
    assert _action(engine, action_id).result == {"status": 204}
    assert seen[0][0] == "k-w" and b'"kind":"webhook"' in seen[0][1].replace(b" ", b"")


# --------------------------------------------------------------------------- e-mail

REMINDER = {"template": "reminder", "stage": "reminder", "policy_version": "cd" * 32,
            "as_of": "2026-03-17", "facts": {"days_past_due": 45}}  # fmt: skip


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
    executor = _executor(engine, provider, mailer, on_uncertain_email="resend")
    action_id = _enqueue(engine, book, "notify_email", "k-first-again", REMINDER,
                         subscription_id=None)  # fmt: skip
    _crashed_while_sending(engine, action_id)
    assert executor.recover_stale(older_than=timedelta(0)) == 1
    assert executor.run_once().done == 1
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
        assert executor.run_once().claimed == 0
        assert executor.recover_stale(older_than=timedelta(0)) == 0
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


def test_two_executors_opening_the_same_review_at_once_share_one_case(engine, book):
    import threading
    import time

    from riskdesk.cases import open_case

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite: writers take turns, the second always finds the first case")
    first_holds = threading.Event()
    release = threading.Event()
    results = {}

    def first():
        with session_scope(engine) as session:
            case, opened = open_case(
                session, customer_id=book["customer"], kind="collections_review",
                title="review", by="executor-a", source_key="k-a",
            )  # fmt: skip
            results["first"] = (case.id, opened)
            first_holds.set()
            release.wait(10)

    def second():
        first_holds.wait(10)
        with session_scope(engine) as session:
            case, opened = open_case(
                session, customer_id=book["customer"], kind="collections_review",
                title="review", by="executor-b", source_key="k-b",
            )  # fmt: skip
            results["second"] = (case.id, opened)

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    first_holds.wait(10)
    time.sleep(0.5)  # the second waits on the first's uncommitted case
    release.set()
    a.join(20)
    b.join(20)
    assert results["first"][1] is True
    assert results["second"] == (results["first"][0], False)  # joined, no error
