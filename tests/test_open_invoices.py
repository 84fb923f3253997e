"""What each customer owes invoice by invoice: the same answer whether the customers' invoices
are looked up one by one or read in one pass over the book (a run notifying thousands)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from book_builders import customer, invoice
from riskdesk.book import open_invoices
from riskdesk.book.open_invoices import invoice_balances
from riskdesk.book.payments import record_payment
from riskdesk.db.engine import session_scope
from riskdesk.money import Money

AS_OF = date(2026, 3, 31)


@pytest.fixture
def book(engine):
    """Three customers: one with a part-paid, a paid-after-as_of and a not-yet-due invoice,
    one in JPY paid in full, one with nothing open but a settled disputed invoice."""
    with session_scope(engine) as session:
        a = customer(session, "Alpha", "EUR")
        invoice(session, a, "A-1", "100.00", date(2026, 1, 1), date(2026, 1, 31))
        invoice(session, a, "A-2", "50.00", date(2026, 2, 1), date(2026, 2, 28))
        invoice(session, a, "A-3", "75.00", date(2026, 3, 20), date(2026, 4, 19))
        invoice(session, a, "A-4", "10.00", date(2026, 4, 2), date(2026, 5, 2))  # after as_of
        record_payment(
            session,
            customer_id=a.id,
            reference="PA-1",
            received_on=date(2026, 2, 15),
            amount=Money("40.00", "EUR"),
            applies_to=["A-1"],
        )
        record_payment(  # after as_of: on as_of A-2 was still open
            session,
            customer_id=a.id,
            reference="PA-2",
            received_on=date(2026, 4, 3),
            amount=Money("50.00", "EUR"),
            applies_to=["A-2"],
        )
        b = customer(session, "Beta", "JPY")
        invoice(session, b, "B-1", "5000", date(2026, 1, 1), date(2026, 1, 31))
        record_payment(
            session,
            customer_id=b.id,
            reference="PB-1",
            received_on=date(2026, 2, 1),
            amount=Money("5000", "JPY"),
        )
        c = customer(session, "Gamma", "EUR")
        invoice(session, c, "C-1", "20.00", date(2026, 1, 1), date(2026, 1, 31), disputed=True)
        record_payment(
            session,
            customer_id=c.id,
            reference="PC-1",
            received_on=date(2026, 2, 1),
            amount=Money("20.00", "EUR"),
        )
        return {"a": a.id, "b": b.id, "c": c.id}


def _read(engine, ids, *, whole_book: bool, past_due_only: bool, monkeypatch):
    monkeypatch.setattr(open_invoices, "_WHOLE_BOOK_FROM", 1 if whole_book else 10**9)
    with engine.connect() as connection:
        return dict(invoice_balances(connection, ids, AS_OF, past_due_only=past_due_only))


@pytest.mark.parametrize("past_due_only", [False, True])
def test_one_pass_over_the_book_reads_what_the_lookups_read(
    engine, book, monkeypatch, past_due_only
):
    ids = [book["a"], book["b"], book["c"]]
    looked_up = _read(
        engine, ids, whole_book=False, past_due_only=past_due_only, monkeypatch=monkeypatch
    )
    scanned = _read(
        engine, ids, whole_book=True, past_due_only=past_due_only, monkeypatch=monkeypatch
    )
    assert scanned == looked_up
    numbers = [i.number for i in looked_up[book["a"]]]
    assert numbers == (["A-1", "A-2"] if past_due_only else ["A-1", "A-2", "A-3"])
    assert looked_up[book["a"]][0].open_amount == Money(Decimal("60.00"), "EUR")
    assert looked_up[book["a"]][1].open_amount == Money(Decimal("50.00"), "EUR")
    assert book["b"] not in looked_up and book["c"] not in looked_up


def test_one_pass_reads_only_the_customers_asked_for(engine, book, monkeypatch):
    scanned = _read(
        engine, [book["a"]], whole_book=True, past_due_only=False, monkeypatch=monkeypatch
    )
    assert list(scanned) == [book["a"]]
