# ruff: noqa: F811 - the fixtures imported from test_actions are used as parameters
"""Collections end to end on a small hand-built book: the shipped policy, the outbox, the
executor against the sandbox over HTTP, notices to a real SMTP server; SQLite and PostgreSQL.

The book (see test_actions.book): one EUR customer with one active seat subscription known to
the sandbox, invoices INV-7001 (1,200.00, due 2026-01-31) and INV-7002 (350.25, due
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
from test_actions import Clock, book, provider, sandbox, smtp  # noqa: F401, F811 - fixtures

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"


@pytest.fixture
def policy():
    return load_policy(STANDARD)


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def collect(engine, policy, day: date, **kw):
    """A collections run on `day`, its outbox rows due at the start of that day."""
    return run_collections(engine, policy, as_of=day, now=at(day), **kw)


def stage_of(engine, customer_id):
    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.stage


def actions(engine, **where):
    with session_scope(engine) as session:
        query = select(OutboxAction).order_by(OutboxAction.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxAction, name) == value)
        return session.scalars(query).all()


def execute(engine, provider, smtp, day):
    from riskdesk.actions.executor import Executor

    clock = Clock(at(day))
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="collections@reseller.example")
    return Executor(engine, provider, mailer, now=clock).run_once()


def provider_status(provider, book):
    return provider.get_subscription(book["tenant"], book["sub"]).status


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


def orders_blocked(engine, customer_id):
    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.orders_blocked


def stage_events(engine, customer_id):
    with session_scope(engine) as session:
        return session.scalars(
            select(AuditEvent.data)
            .where(
                AuditEvent.action == "collections.stage_changed",
                AuditEvent.subject_id == str(customer_id),
            )
            .order_by(AuditEvent.id)
        ).all()


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


TIERED = """
name: tiered
currency_note: Amounts are in the currency you are invoiced in.
grace_days: 0
max_suspensions_per_run: 50
approval_threshold: 1000000
reinstatement: at once
stages:
  - name: usage_stopped
    title: Usage stopped
    when: days_past_due >= 30
    actions: [{notify: suspended}, {suspend: {kind: consumption}}]
  - name: all_stopped
    title: Everything stopped
    when: days_past_due >= 60
    actions: [{suspend: {kind: seat}}]
"""


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

    policy = _variant(approval_threshold=1000)
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

    later = Clock(datetime(2026, 3, 5, 12, tzinfo=UTC))  # the lease has run out: retried
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="collections@reseller.example")
    Executor(engine, provider, mailer, now=later).run_once()
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

    from riskdesk.collections import run as runs

    customer, day = book["customer"], date(2026, 3, 5)
    collect(engine, policy, date(2026, 3, 4))  # final notice
    read_facts = runs.customer_facts
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

    monkeypatch.setattr(runs, "customer_facts", facts_then_a_payment_arrives)
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
    policy = _variant(approval_threshold=1000)
    collect(engine, policy, date(2026, 3, 5))  # suspended: notice and suspension wait
    collect(engine, policy, date(2026, 5, 5))  # write-off review, nobody approved yet
    notices = actions(engine, kind="notify_email")
    assert [(a.payload["stage"], a.status) for a in notices] == [
        ("suspended", "awaiting_approval")
    ]  # kept: once approved, the customer is told before it is suspended


def test_a_run_never_cancels_an_action_an_executor_has_just_carried_out(
    engine, policy, book, monkeypatch
):
    from riskdesk.collections import run as runs

    collect(engine, policy, date(2026, 2, 10))  # reminder, pending
    (reminder,) = actions(engine, kind="notify_email")
    with session_scope(engine) as session:
        record_payment(
            session, customer_id=book["customer"], reference="PAY-D",
            received_on=date(2026, 2, 11), amount=Money("1550.25", "EUR"),
        )  # fmt: skip
    judge = runs.superseded

    def an_executor_sends_it_meanwhile(kind, payload, **state):
        # Between the run reading the waiting rows and cancelling the stale ones.
        with session_scope(engine) as session:  # what the executor records after sending
            session.get(OutboxAction, reminder.id).status = "done"
        return judge(kind, payload, **state)

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite: the run holds the write lock, no other writer gets in between")
    monkeypatch.setattr(runs, "superseded", an_executor_sends_it_meanwhile)
    collect(engine, policy, date(2026, 2, 11), customer_ids=[book["customer"]])
    (after,) = actions(engine, kind="notify_email")
    assert after.status == "done"  # not overwritten as cancelled


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


def _variant(**settings) -> object:
    text = STANDARD.read_text()
    for key, value in settings.items():
        text = "\n".join(
            f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines()
        )
    return parse_policy(text, source="variant.yaml")


def test_blast_radius_stops_every_suspension_and_raises_an_alert(engine, book):
    from book_builders import customer, invoice

    with session_scope(engine) as session:
        other = customer(session, "Second Late Payer")
        invoice(session, other, "INV-9001", "80.00", date(2026, 1, 1), date(2026, 1, 20))
        other_id = other.id
    policy = _variant(max_suspensions_per_run=1)  # two customers reach suspension at once
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
    policy = _variant(approval_threshold=1000)
    report = collect(engine, policy, date(2026, 3, 5))
    waiting = actions(engine, kind="suspend_subscription")
    assert [a.status for a in waiting] == ["awaiting_approval"]
    # The whole step waits (notice, suspension), and the report says how much does.
    assert report.awaiting_approval == len(actions(engine, status="awaiting_approval")) == 2
    execute(engine, provider, smtp, date(2026, 3, 5))
    assert provider_status(provider, book) == "active"


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
