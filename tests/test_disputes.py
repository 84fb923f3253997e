"""Invoice disputes as a credit controller records them: opened, rejected, upheld (credited),
with the customer's collections re-evaluated at once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from book_builders import customer, invoice, payment
from riskdesk.app import disputes as uc
from riskdesk.app.bootstrap import bootstrap
from riskdesk.app.clock import FixedClock
from riskdesk.app.disputes import DisputeOutcome
from riskdesk.book.detail import customer_detail
from riskdesk.book.disputes import CREDIT_NOTE, UNRECORDED_REASON
from riskdesk.book.facts import customer_facts
from riskdesk.book.payments import allocate, record_payment
from riskdesk.collections.policy import load_policy
from riskdesk.collections.run import run_collections
from riskdesk.config import Settings
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    AuditEvent,
    CollectionState,
    Invoice,
    InvoiceDispute,
    Payment,
    PaymentAllocation,
)
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.money import Money

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
TODAY = date(2026, 4, 10)


@pytest.fixture
def deps(engine, database_url):
    deps = bootstrap(Settings(database_url=database_url), clock=FixedClock.on(TODAY))
    yield deps
    deps.close()


@pytest.fixture
def fabrikam(engine):
    """Suspended by 10 April: INV-7001 (1,200.00, due 31 Jan) and INV-7002 (350.25, due 3 Mar)."""
    with session_scope(engine) as session:
        cust = customer(session, "Fabrikam Ltd", "EUR")
        invoice(session, cust, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        invoice(session, cust, "INV-7002", "350.25", date(2026, 2, 1), date(2026, 3, 3))
        cid = cust.id
    run_collections(engine, load_policy(STANDARD), as_of=TODAY, customer_ids=[cid], now=None)
    assert stage(engine, cid) == "suspended"
    return cid


def stage(engine, customer_id):
    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.stage


def facts(engine, customer_id, day=TODAY):
    with session_scope(engine) as session:
        (row,) = customer_facts(session, day, customer_ids=[customer_id])
        return row


def audit_count(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def dispute(deps, number, reason="seats billed twice", actor="j.doe"):
    return uc.open_dispute(deps, number, reason=reason, actor=actor, execute=False, policy=STANDARD)


def resolve(deps, number, outcome, note=None, actor="a.lee"):
    return uc.resolve_dispute(
        deps, number, outcome=outcome, note=note, actor=actor, execute=False, policy=STANDARD
    )


def moves(result):
    return [(d.previous_stage, d.stage) for d in result.followed.transitions]


def test_a_dispute_takes_the_invoice_out_of_collections_at_once(engine, deps, fabrikam):
    first = dispute(deps, "INV-7001")
    # INV-7002 is still 38 days overdue: suspended either way, but only on it now.
    assert moves(first) == []
    assert facts(engine, fabrikam).overdue_amount == Money("350.25", "EUR")
    second = dispute(deps, "INV-7002", reason="price differs from the quote")
    assert moves(second) == [("suspended", None)]
    assert stage(engine, fabrikam) is None
    row = facts(engine, fabrikam)
    assert row.overdue_amount == Money(0, "EUR") and row.disputed_amount == Money("1550.25", "EUR")
    assert row.open_balance == Money("1550.25", "EUR")  # still owed while disputed
    with session_scope(engine) as session:
        recorded = session.scalars(select(InvoiceDispute).order_by(InvoiceDispute.id)).all()
        assert [(d.reason, d.opened_by, d.outcome) for d in recorded] == [
            ("seats billed twice", "j.doe", None),
            ("price differs from the quote", "j.doe", None),
        ]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "invoice.disputed")
        ).first()
        assert event.actor == "j.doe" and event.data["invoice"] == "INV-7001"
        assert event.data["reason"] == "seats billed twice"
        shown = customer_detail(session, str(fabrikam), TODAY)
        assert [d.number for d in shown.disputes] == ["INV-7001", "INV-7002"]


def test_a_rejected_dispute_puts_the_invoice_back_in_collections_at_once(engine, deps, fabrikam):
    dispute(deps, "INV-7001")
    dispute(deps, "INV-7002")
    assert stage(engine, fabrikam) is None
    result = resolve(deps, "INV-7001", DisputeOutcome.REJECTED, note="usage confirmed")
    assert moves(result) == [(None, "suspended")]
    assert result.change.credited is None and result.change.credit_note is None
    assert facts(engine, fabrikam).overdue_amount == Money("1200.00", "EUR")
    with session_scope(engine) as session:
        assert session.scalar(select(Invoice.disputed).where(Invoice.number == "INV-7001")) is (
            False
        )
        row = session.scalars(select(InvoiceDispute).where(InvoiceDispute.outcome.is_not(None)))
        (resolved,) = row.all()
        assert (resolved.outcome, resolved.resolved_by, resolved.resolution_note) == (
            "rejected",
            "a.lee",
            "usage confirmed",
        )
        assert resolved.resolved_at is not None
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("invoice.%"))
        ).all()
        assert actions.count("invoice.dispute_rejected") == 1


def test_an_upheld_dispute_credits_what_is_open_so_it_is_no_longer_owed(engine, deps, fabrikam):
    with session_scope(engine) as session:  # 200.00 of INV-7001 was paid in February
        record_payment(
            session,
            customer_id=fabrikam,
            reference="BANK-1",
            received_on=date(2026, 2, 15),
            amount=Money("200.00", "EUR"),
            applies_to=["INV-7001"],
        )
    dispute(deps, "INV-7001")
    dispute(deps, "INV-7002")
    result = resolve(deps, "INV-7001", DisputeOutcome.UPHELD, note="duplicate billing")
    assert result.change.credited == Money("1000.00", "EUR")
    assert result.change.credit_note == f"credit-note:INV-7001:{result.change.dispute_id}"
    assert moves(result) == []  # INV-7002 is still disputed: nothing overdue
    today = facts(engine, fabrikam)
    assert today.open_balance == Money("350.25", "EUR")  # INV-7001 no longer owed
    assert today.unapplied_credit == Money(0, "EUR")
    # The day before the credit, INV-7001 was still open (history is not rewritten).
    assert facts(engine, fabrikam, date(2026, 4, 9)).open_balance == Money("1350.25", "EUR")
    with session_scope(engine) as session:
        inv = session.scalars(select(Invoice).where(Invoice.number == "INV-7001")).one()
        assert (inv.disputed, inv.paid, inv.settled_on) == (False, Decimal("1200"), TODAY)
        credit = session.scalars(select(Payment).where(Payment.method == CREDIT_NOTE)).one()
        assert credit.amount == Decimal("1000") and credit.received_on == TODAY
        row = session.scalars(select(InvoiceDispute).where(InvoiceDispute.outcome == "upheld"))
        assert row.one().credit_payment_id == credit.id
        shown = customer_detail(session, str(fabrikam), TODAY)
        assert [d.number for d in shown.disputes] == ["INV-7002"]
        assert [i.number for i in shown.open_invoices] == ["INV-7002"]
    # A later payment goes to what is still owed, never to the credited invoice.
    rejected = resolve(deps, "INV-7002", DisputeOutcome.REJECTED)
    assert moves(rejected) == [(None, "suspended")]
    with session_scope(engine) as session:
        record_payment(
            session,
            customer_id=fabrikam,
            reference="BANK-2",
            received_on=TODAY,
            amount=Money("350.25", "EUR"),
        )
        assert allocate(session, [fabrikam]) == 0
        to_7001 = session.scalar(
            select(func.count())
            .select_from(PaymentAllocation)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(Invoice.number == "INV-7001")
        )
        assert to_7001 == 2  # BANK-1 and the credit note
    assert facts(engine, fabrikam).open_balance == Money(0, "EUR")


def test_a_paid_invoice_cannot_be_disputed(engine, deps, fabrikam):
    with session_scope(engine) as session:
        record_payment(
            session,
            customer_id=fabrikam,
            reference="BANK-1",
            received_on=date(2026, 2, 15),
            amount=Money("1200.00", "EUR"),
            applies_to=["INV-7001"],
        )
    before = audit_count(engine)
    with pytest.raises(ConflictError) as refused:
        dispute(deps, "INV-7001")
    message = str(refused.value)
    assert "invoice INV-7001 of customer 'Fabrikam Ltd'" in message
    assert "is paid in full (settled on 2026-02-15)" in message
    assert audit_count(engine) == before
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(InvoiceDispute)) == 0


def test_disputing_twice_or_resolving_what_is_not_disputed_is_a_conflict(engine, deps, fabrikam):
    with pytest.raises(ConflictError, match="INV-7001 .* is not disputed: there is no dispute"):
        resolve(deps, "INV-7001", DisputeOutcome.REJECTED)
    dispute(deps, "INV-7001", actor="j.doe")
    with pytest.raises(ConflictError, match="already disputed since 2026-04-10, recorded by j.doe"):
        dispute(deps, "INV-7001")
    resolve(deps, "INV-7001", DisputeOutcome.UPHELD)
    with pytest.raises(ConflictError, match="its last dispute was upheld on 2026-04-10 by a.lee"):
        resolve(deps, "INV-7001", DisputeOutcome.UPHELD)
    with pytest.raises(ConflictError, match="paid in full"):  # credited: nothing left open
        dispute(deps, "INV-7001")


def test_an_unknown_invoice_or_a_missing_reason_is_refused(engine, deps, fabrikam):
    before = audit_count(engine)
    with pytest.raises(NotFoundError, match="unknown invoice 'INV-9999': no invoice has"):
        dispute(deps, "INV-9999")
    with pytest.raises(NotFoundError, match="unknown invoice 'INV-9999'"):
        resolve(deps, "INV-9999", DisputeOutcome.UPHELD)
    with pytest.raises(InvalidInputError, match="a reason is required"):
        dispute(deps, "INV-7001", reason="  ")
    assert audit_count(engine) == before


def test_an_invoice_marked_disputed_without_a_record_can_be_resolved(engine, deps):
    with session_scope(engine) as session:  # as an import or the demo book marks one
        cust = customer(session, "Northwind", "EUR")
        invoice(session, cust, "INV-1", "90.00", date(2026, 1, 1), date(2026, 1, 31), disputed=True)
        payment(session, cust, "OLD", "10.00", date(2026, 1, 5))
        allocate(session, [cust.id])
    result = resolve(deps, "INV-1", DisputeOutcome.UPHELD)
    assert result.change.credited == Money("80.00", "EUR")
    with session_scope(engine) as session:
        (row,) = session.scalars(select(InvoiceDispute)).all()
        assert (row.reason, row.opened_by, row.outcome) == (UNRECORDED_REASON, "unknown", "upheld")


def test_a_dispute_whose_follow_up_failed_is_judged_by_the_next_command(
    engine, deps, fabrikam, monkeypatch
):
    """The dispute's transaction owes the re-evaluation: a follow-up that fails after the
    commit (here the database goes away) leaves it owed, and the next command settles it."""
    from riskdesk.app import reevaluate as follow_up
    from riskdesk.app.reevaluate import FollowUpFailedError, settle_pending
    from riskdesk.db.models import PendingReevaluation
    from riskdesk.errors import UnavailableError

    def database_gone(*args, **kwargs):
        raise UnavailableError("the database went away")

    dispute(deps, "INV-7001")
    with monkeypatch.context() as patch:
        patch.setattr(follow_up, "settle_pending", database_gone)
        with pytest.raises(FollowUpFailedError, match="is recorded"):
            dispute(deps, "INV-7002", reason="price differs from the quote")
    assert stage(engine, fabrikam) == "suspended"  # not judged yet
    with session_scope(engine) as session:
        owed = session.scalars(select(PendingReevaluation.customer_id)).all()
    assert owed == [fabrikam]
    settle_pending(deps, load_policy(STANDARD), actor="next-command")
    assert stage(engine, fabrikam) is None
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(PendingReevaluation)) == 0
