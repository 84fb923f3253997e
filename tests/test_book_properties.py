"""Allocation invariants over random books."""

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from book_builders import customer, invoice, payment
from riskdesk.book.facts import customer_facts
from riskdesk.book.payments import allocate
from riskdesk.db.engine import session_scope
from riskdesk.db.models import Customer, Invoice, Payment, PaymentAllocation
from riskdesk.money import Money

START = date(2026, 1, 1)
cents = st.integers(min_value=1, max_value=50_000)
day = st.integers(min_value=0, max_value=90)
invoices_st = st.lists(st.tuples(cents, day, st.integers(0, 30)), max_size=8)
payments_st = st.lists(st.tuples(cents, day, st.booleans()), max_size=6)


def _clear(engine):
    with engine.begin() as conn:
        for table in (PaymentAllocation, Payment, Invoice, Customer):
            conn.execute(delete(table.__table__))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(invoices=invoices_st, payments=payments_st, twice=st.booleans())
def test_allocations_never_exceed_amounts_and_balance_adds_up(engine, invoices, payments, twice):
    _clear(engine)
    with session_scope(engine) as s:
        c = customer(s)
        numbers = []
        for n, (amount, issued, terms) in enumerate(invoices):
            issued_on = START + timedelta(days=issued)
            number = f"I-{n}"
            invoice(
                s,
                c,
                number,
                Money(amount, "EUR").amount / 100,
                issued_on,
                issued_on + timedelta(days=terms),
            )
            numbers.append(number)
        for n, (amount, received, names) in enumerate(payments):
            applies = [numbers[(n * 3) % len(numbers)]] if names and numbers else []
            payment(
                s,
                c,
                f"P-{n}",
                Money(amount, "EUR").amount / 100,
                START + timedelta(days=received),
                applies_to=applies,
            )
        allocate(s)
        if twice:
            assert allocate(s) == 0
        per_payment = dict(
            s.execute(
                select(Payment.id, func.coalesce(func.sum(PaymentAllocation.amount), 0))
                .outerjoin(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
                .group_by(Payment.id)
            ).all()
        )
        for p in s.scalars(select(Payment)):
            assert per_payment[p.id] <= p.amount
        totals = {i.id: i.total for i in s.scalars(select(Invoice))}
        per_invoice = dict(
            s.execute(
                select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount)).group_by(
                    PaymentAllocation.invoice_id
                )
            ).all()
        )
        for invoice_id, allocated in per_invoice.items():
            assert allocated <= totals[invoice_id]
        allocated_total = sum(per_invoice.values(), start=0)
        paid_total = sum((p.amount for p in s.scalars(select(Payment))), start=0)
        # oldest-first leaves nothing both open and payable
        assert allocated_total == min(sum(totals.values(), start=0), paid_total)
        cid = c.id
    with engine.connect() as conn:
        (f,) = customer_facts(conn, START + timedelta(days=365), [cid])
    assert f.open_balance.amount == sum(totals.values(), start=0) - allocated_total
    assert f.unapplied_credit.amount == paid_total - allocated_total
