"""customer_detail: what a credit controller asks first about one customer."""

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import event

from book_builders import customer, invoice
from riskdesk.actions.outbox import enqueue
from riskdesk.book.detail import customer_detail
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    CollectionState,
    OutboxAction,
    PromiseToPay,
    Subscription,
    SubscriptionSuspension,
)
from riskdesk.money import Money

AS_OF = date(2026, 3, 10)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _subscription(session, cust, n, *, reasons=()):
    sub = Subscription(
        customer_id=cust.id,
        provider_subscription_id=f"sub-{cust.id}-{n}",
        offer_id="o365",
        offer_name=f"Offer {n}",
        kind="seat",
        quantity=n,
        unit_price=Decimal(10),
        currency=cust.currency,
        billing_cycle="monthly",
        provider_status="suspended" if reasons else "active",
        created_on=date(2025, 1, 1),
    )
    session.add(sub)
    session.flush()
    for reason, since in reasons:
        session.add(
            SubscriptionSuspension(subscription_id=sub.id, reason=reason, since=since, note=None)
        )
    session.flush()
    return sub


def _book(session, n_subs=2, n_invoices=2):
    c = customer(session, "Contoso Ltd", domain="contoso.onmicrosoft.com")
    subs = [_subscription(session, c, 1, reasons=[("non_payment", T0), ("manual", T0)])]
    subs += [_subscription(session, c, i) for i in range(2, n_subs + 1)]
    invoice(session, c, f"INV-{c.id}-D", "300", date(2026, 1, 1), date(2026, 1, 31), disputed=True)
    for i in range(1, n_invoices):
        invoice(session, c, f"INV-{c.id}-{i}", "100", date(2026, 1, 1), date(2026, 1, 31))
    session.add(
        CollectionState(
            customer_id=c.id,
            stage="suspended",
            entered_on=date(2026, 3, 1),
            policy_version="v1",
            orders_blocked=True,
            subscriptions_suspended=True,
            updated_at=T0,
        )
    )
    session.add(
        PromiseToPay(
            customer_id=c.id,
            promised_on=date(2026, 3, 2),
            due_on=date(2026, 3, 20),
            amount=Decimal("250.00"),
            currency="EUR",
            note="CFO on the phone",
            created_by="j.doe",
            created_at=T0,
        )
    )
    session.add(
        PromiseToPay(
            customer_id=c.id,
            promised_on=date(2026, 2, 1),
            due_on=date(2026, 2, 10),
            amount=Decimal("99"),
            currency="EUR",
            status="broken",
            created_by="j.doe",
            created_at=T0,
        )
    )
    base = {"stage": "suspended", "reason": "31 days past due", "transition": "t:1"}
    suspend = enqueue(
        session,
        key=f"k-{c.id}-suspend",
        kind="suspend_subscription",
        customer_id=c.id,
        subscription_id=subs[-1].id,
        payload=base | {"reason": "non_payment"},
        requires_approval=True,
        now=T0,
    )
    leased = enqueue(
        session,
        key=f"k-{c.id}-notify",
        kind="notify_email",
        customer_id=c.id,
        payload=base | {"template": "final_notice"},
        now=T0,
    )
    leased.status, leased.claimed_at, leased.attempts = "in_progress", T0, 2
    leased.last_error = "mail server busy"
    sent = enqueue(
        session,
        key=f"k-{c.id}-sent",
        kind="notify_email",
        customer_id=c.id,
        payload={"stage": "reminder", "template": "reminder"},
        now=T0,
    )
    sent.status, sent.updated_at = "done", datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    sent.result = {
        "message_id": "<k.abc@riskdesk.invalid>",
        "to": "ap@contoso.example",
        "template": "reminder",
        "subject": "Payment reminder",
    }
    skipped = enqueue(
        session,
        key=f"k-{c.id}-skipped",
        kind="notify_email",
        customer_id=c.id,
        payload={"template": "reminder"},
        now=T0,
    )
    skipped.status, skipped.result = "done", {"skipped": "stage left"}
    later = enqueue(
        session,
        key=f"k-{c.id}-later",
        kind="notify_email",
        customer_id=c.id,
        payload={"template": "reminder"},
        now=T0,
    )
    later.status, later.updated_at = "done", datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    later.result = {"message_id": "<later@x>", "template": "reminder"}
    done_suspend = enqueue(
        session,
        key=f"k-{c.id}-done",
        kind="suspend_subscription",
        customer_id=c.id,
        subscription_id=subs[0].id,
        payload={"reason": "non_payment"},
        now=T0,
    )
    done_suspend.status = "done"
    session.flush()
    return c, subs, suspend, leased, sent


def test_detail_carries_stage_holds_actions_notices_disputes_and_promises(engine):
    with session_scope(engine) as s:
        c, subs, suspend, leased, sent = _book(s)
    with session_scope(engine) as s:
        d = customer_detail(s, "contoso.onmicrosoft.com", AS_OF)

    assert d.collections.stage == "suspended"
    assert d.collections.entered_on == date(2026, 3, 1)
    assert d.collections.subscriptions_suspended is True

    assert [(h.provider_subscription_id, h.reason, h.since) for h in d.holds] == [
        (subs[0].provider_subscription_id, "manual", T0),
        (subs[0].provider_subscription_id, "non_payment", T0),
    ]

    waiting = {a.id: a for a in d.waiting_actions}
    assert set(waiting) == {suspend.id, leased.id}
    assert waiting[suspend.id].status == "awaiting_approval"
    assert waiting[suspend.id].kind == "suspend_subscription"
    assert waiting[suspend.id].provider_subscription_id == subs[-1].provider_subscription_id
    assert waiting[suspend.id].claimed_at is None
    assert waiting[leased.id].status == "in_progress"
    assert waiting[leased.id].claimed_at == T0
    assert waiting[leased.id].last_error == "mail server busy"
    assert waiting[leased.id].reason == "31 days past due"
    assert waiting[leased.id].created_at == T0

    # Sent by the end of AS_OF: the skipped one was never sent, the later one is after.
    assert d.notices_sent == 1
    (notice,) = d.notices
    assert notice.id == sent.id
    assert notice.template == "reminder"
    assert notice.subject == "Payment reminder"
    assert notice.message_id == "<k.abc@riskdesk.invalid>"
    assert notice.sent_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)

    (dispute,) = d.disputes
    assert dispute.number == f"INV-{c.id}-D"
    assert dispute.total == Money(Decimal(300), "EUR")

    (promise,) = d.promises
    assert promise.amount == Money(Decimal("250.00"), "EUR")
    assert promise.due_on == date(2026, 3, 20)
    assert promise.overdue is False
    assert promise.created_by == "j.doe"

    # The CLI serialises the detail with a generic dataclass -> dict helper.
    assert json.dumps(dataclasses.asdict(d), default=str)


def test_a_customer_in_good_standing_has_empty_sections(engine):
    with session_scope(engine) as s:
        c = customer(s, "Quiet Ltd")
    with session_scope(engine) as s:
        d = customer_detail(s, str(c.id), AS_OF)
    assert d.collections.stage is None and d.collections.entered_on is None
    assert (d.holds, d.waiting_actions, d.notices, d.disputes, d.promises) == ([],) * 5
    assert d.notices_sent == 0


def _statements(engine, ref):
    count = 0

    def on_execute(*_args):
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        with session_scope(engine) as s:
            customer_detail(s, ref, AS_OF)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return count


def test_the_number_of_queries_does_not_grow_with_subscriptions_or_invoices(engine):
    with session_scope(engine) as s:
        small, *_ = _book(s, n_subs=1, n_invoices=1)
        large, *_ = _book(s, n_subs=8, n_invoices=12)
        for n in range(40):
            s.add(
                OutboxAction(
                    idempotency_key=f"many-{n}",
                    kind="notify_email",
                    customer_id=large.id,
                    payload={"template": "reminder"},
                    status="done",
                    result={"message_id": f"<{n}@x>", "template": "reminder"},
                    next_attempt_at=T0,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        small_id, large_id = small.id, large.id
    assert _statements(engine, str(large_id)) == _statements(engine, str(small_id)) + 1
    with session_scope(engine) as s:
        d = customer_detail(s, str(large_id), AS_OF)
    assert len(d.notices) == 20 and d.notices_sent == 41
