from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from book_builders import customer, invoice, payment
from riskdesk.audit import verify_chain
from riskdesk.book.payments import DuplicatePaymentError, PaymentError, allocate, record_payment
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Payment, PaymentAllocation
from riskdesk.errors import NotFoundError
from riskdesk.money import Money


def allocations(session):
    rows = session.execute(
        select(
            Payment.reference,
            PaymentAllocation.invoice_id,
            PaymentAllocation.amount,
            PaymentAllocation.applied_on,
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .order_by(PaymentAllocation.id)
    ).all()
    return [tuple(r) for r in rows]


def test_a_partial_payment_pays_the_oldest_invoices_first(engine):
    with session_scope(engine) as s:
        c = customer(s)
        newest = invoice(s, c, "INV-3", "300.00", date(2026, 3, 1), date(2026, 3, 31))
        oldest = invoice(s, c, "INV-1", "100.00", date(2026, 1, 1), date(2026, 1, 31))
        middle = invoice(s, c, "INV-2", "200.00", date(2026, 2, 1), date(2026, 2, 28))
        payment(s, c, "P-1", "250.00", date(2026, 3, 5))
        assert allocate(s) == 2
        assert allocations(s) == [
            ("P-1", oldest.id, Decimal("100.000000"), date(2026, 3, 5)),
            ("P-1", middle.id, Decimal("150.000000"), date(2026, 3, 5)),
        ]
        assert newest.id not in {a[1] for a in allocations(s)}


def test_several_payments_spread_across_several_invoices(engine):
    with session_scope(engine) as s:
        c = customer(s)
        i1 = invoice(s, c, "A-1", "100", date(2026, 1, 1), date(2026, 1, 10))
        i2 = invoice(s, c, "A-2", "100", date(2026, 1, 2), date(2026, 1, 20))
        payment(s, c, "P-a", "60", date(2026, 1, 5))
        payment(s, c, "P-b", "90", date(2026, 1, 6))
        allocate(s)
        got = [(r, i, a) for r, i, a, _ in allocations(s)]
        assert got == [
            ("P-a", i1.id, Decimal(60)),
            ("P-b", i1.id, Decimal(40)),
            ("P-b", i2.id, Decimal(50)),
        ]


def test_a_payment_naming_a_later_invoice_pays_that_one_first(engine):
    with session_scope(engine) as s:
        c = customer(s)
        old = invoice(s, c, "INV-1", "100", date(2026, 1, 1), date(2026, 1, 31))
        later = invoice(s, c, "INV-2", "80", date(2026, 2, 1), date(2026, 2, 28))
        payment(s, c, "P-1", "120", date(2026, 2, 10), applies_to=["INV-2"])
        assert allocate(s) == 2
        got = [(i, a) for _, i, a, _ in allocations(s)]
        assert got == [(later.id, Decimal(80)), (old.id, Decimal(40))]


def test_overpayment_is_credit_that_meets_the_next_invoice(engine):
    with session_scope(engine) as s:
        c = customer(s)
        first = invoice(s, c, "INV-1", "100", date(2026, 1, 1), date(2026, 1, 31))
        payment(s, c, "P-1", "150", date(2026, 1, 20))
        assert allocate(s) == 1
        assert allocate(s) == 0
        second = invoice(s, c, "INV-2", "70", date(2026, 2, 1), date(2026, 3, 3))
        assert allocate(s) == 1
        assert allocations(s) == [
            ("P-1", first.id, Decimal(100), date(2026, 1, 20)),
            # the credit met the invoice the day the invoice was issued
            ("P-1", second.id, Decimal(50), date(2026, 2, 1)),
        ]


def test_allocate_twice_creates_nothing_and_stays_within_amounts(engine):
    with session_scope(engine) as s:
        a = customer(s, "A")
        b = customer(s, "B", "USD")
        for n in range(4):
            invoice(s, a, f"A-{n}", "33.33", date(2026, 1, 1 + n))
            invoice(s, b, f"B-{n}", "10", date(2026, 1, 1 + n))
        payment(s, a, "PA-1", "50", date(2026, 2, 1))
        payment(s, a, "PA-2", "100", date(2026, 2, 2), applies_to=["A-3"])
        payment(s, b, "PB-1", "25", date(2026, 2, 1))
        first = allocate(s)
        assert first > 0
        assert allocate(s) == 0
        assert allocate(s, [a.id, b.id]) == 0
        total = s.scalar(select(func.sum(PaymentAllocation.amount)))
        assert total == Decimal("158.32")  # all of A's 133.32 and 25 of B's 40


def test_allocate_for_some_customers_leaves_the_others(engine):
    with session_scope(engine) as s:
        a = customer(s, "A")
        b = customer(s, "B")
        invoice(s, a, "A-1", "10", date(2026, 1, 1))
        invoice(s, b, "B-1", "10", date(2026, 1, 1))
        payment(s, a, "PA", "10", date(2026, 1, 2))
        payment(s, b, "PB", "10", date(2026, 1, 2))
        assert allocate(s, [b.id]) == 1
        assert [r for r, *_ in allocations(s)] == ["PB"]
        assert allocate(s) == 1


def test_payments_in_another_currency_do_not_pay_invoices(engine):
    with session_scope(engine) as s:
        c = customer(s, currency="EUR")
        invoice(s, c, "INV-1", "100", date(2026, 1, 1))
        payment(s, c, "P-usd", "100", date(2026, 1, 2), currency="USD")
        assert allocate(s) == 0


def test_record_payment_applies_it_and_audits(engine):
    with session_scope(engine) as s:
        c = customer(s)
        inv = invoice(s, c, "INV-1", "100", date(2026, 1, 1))
        p = record_payment(
            s,
            customer_id=c.id,
            reference="BANK-1",
            received_on=date(2026, 1, 15),
            amount=Money("40.10", "EUR"),
            method="transfer",
            applies_to=["INV-1"],
        )
        assert p.id is not None and p.amount == Decimal("40.10")
        assert allocations(s) == [("BANK-1", inv.id, Decimal("40.10"), date(2026, 1, 15))]
        event = s.scalars(select(AuditEvent)).one()
        assert event.action == "payment.recorded"
        assert event.data["reference"] == "BANK-1" and event.data["amount"] == "40.10"
        assert verify_chain(s) is None


def test_record_payment_refuses_a_currency_mismatch(engine):
    with session_scope(engine) as s:
        c = customer(s, "Fabrikam", "EUR")
        with pytest.raises(PaymentError, match=r"in USD but customer 'Fabrikam'.*billed in EUR"):
            record_payment(
                s,
                customer_id=c.id,
                reference="X",
                received_on=date(2026, 1, 1),
                amount=Money("1", "USD"),
            )
        assert s.scalar(select(func.count()).select_from(Payment)) == 0


def test_record_payment_refuses_an_unknown_customer(engine):
    with session_scope(engine) as s, pytest.raises(NotFoundError, match="unknown customer 999"):
        record_payment(
            s,
            customer_id=999,
            reference="X",
            received_on=date(2026, 1, 1),
            amount=Money("1", "EUR"),
        )


def test_record_payment_refuses_invoices_that_are_unknown_or_someone_elses(engine):
    with session_scope(engine) as s:
        a = customer(s, "A")
        b = customer(s, "B")
        invoice(s, b, "B-1", "10", date(2026, 1, 1))
        kwargs = dict(customer_id=a.id, received_on=date(2026, 1, 2), amount=Money("5", "EUR"))
        with pytest.raises(NotFoundError, match="unknown invoice 'NOPE-7'"):
            record_payment(s, reference="R1", applies_to=["NOPE-7"], **kwargs)
        with pytest.raises(PaymentError, match="invoice 'B-1', which belongs to another"):
            record_payment(s, reference="R2", applies_to=["B-1"], **kwargs)
        record_payment(s, reference="R3", **kwargs)
        with pytest.raises(DuplicatePaymentError, match="'R3' is already recorded"):
            record_payment(s, reference="R3", **kwargs)
