from datetime import date, timedelta
from decimal import Decimal

from book_builders import customer, invoice, order, payment, usage
from riskdesk.book.facts import aging_summary, customer_facts, top_exposures
from riskdesk.book.payments import allocate
from riskdesk.db.engine import session_scope
from riskdesk.money import Money


def eur(amount):
    return Money(amount, "EUR")


def facts_of(engine, as_of, ids=None):
    with engine.connect() as conn:
        return {f.customer_id: f for f in customer_facts(conn, as_of, ids)}


def build_book(engine):
    with session_scope(engine) as s:
        a = customer(s, "Contoso", limit="1000")
        idle = customer(s, "Idle", "USD")
        invoice(
            s, a, "INV-1", "100", date(2026, 1, 1), date(2026, 1, 31), period_end=date(2025, 12, 31)
        )
        invoice(
            s, a, "INV-2", "200", date(2026, 2, 1), date(2026, 3, 3), period_end=date(2026, 1, 31)
        )
        payment(s, a, "P-1", "60", date(2026, 2, 10))
        usage(s, a, date(2026, 1, 15), "5")
        usage(s, a, date(2026, 2, 5), "7.5")
        usage(s, a, date(2026, 2, 20), "2.25")
        usage(s, a, date(2026, 2, 20), "1000", currency="USD")  # not in the customer's currency
        order(s, a, "40", date(2026, 2, 15))
        order(s, a, "99", date(2026, 2, 1), status="cancelled")
        order(s, a, "11", date(2026, 3, 10))
        allocate(s)
        return a.id, idle.id


def test_facts_before_an_invoice_is_due(engine):
    a, idle = build_book(engine)
    f = facts_of(engine, date(2026, 1, 20))[a]
    assert f.open_balance == eur("100") and f.current == eur("100")
    assert f.overdue_amount == eur(0) and f.days_past_due == 0
    assert f.unpaid_invoice_count == 1
    assert f.unbilled_usage == eur("5")  # after the period of INV-1 (ended 31 Dec)
    assert f.open_orders == eur(0)
    assert f.exposure == eur("105")
    assert f.credit_limit == eur("1000")


def test_facts_before_and_after_a_payment(engine):
    a, idle = build_book(engine)
    before = facts_of(engine, date(2026, 2, 5))[a]
    assert before.open_balance == eur("300")
    assert before.overdue_amount == eur("100") and before.days_1_30 == eur("100")
    assert before.days_past_due == 5
    assert before.current == eur("200")
    assert before.unpaid_invoice_count == 2
    assert before.unbilled_usage == eur("7.5")  # after INV-2's period (ended 31 Jan)
    assert before.exposure == eur("307.50")

    after = facts_of(engine, date(2026, 2, 20))[a]
    assert after.open_balance == eur("240")
    assert after.overdue_amount == eur("40") and after.days_past_due == 20
    assert after.unbilled_usage == eur("9.75")
    assert after.open_orders == eur("40")  # the cancelled order and the later one do not count
    assert after.exposure == eur("289.75")
    assert after.unapplied_credit == eur(0)
    assert after.open_balance.amount == Decimal("240.00")


def test_customers_without_invoices_appear_with_zeros_and_ids_filter(engine):
    a, idle = build_book(engine)
    f = facts_of(engine, date(2026, 2, 20))
    assert set(f) == {a, idle}
    z = f[idle]
    assert z.currency == "USD" and z.open_balance == Money(0, "USD")
    assert z.exposure == Money(0, "USD") and z.unpaid_invoice_count == 0
    assert z.credit_limit is None and z.days_past_due == 0
    assert set(facts_of(engine, date(2026, 2, 20), [idle])) == {idle}
    one = facts_of(engine, date(2026, 2, 20), [a])[a]
    assert one == f[a]


def test_aging_buckets_at_their_boundaries(engine):
    as_of = date(2026, 6, 30)
    with session_scope(engine) as s:
        b = customer(s, "Boundaries")
        for days, amount in [(0, 64), (30, 1), (31, 2), (60, 4), (61, 8), (90, 16), (91, 32)]:
            due = as_of - timedelta(days=days)
            invoice(s, b, f"B-{days}", str(amount), due - timedelta(days=10), due)
        invoice(s, b, "B-disputed", "128", as_of, as_of + timedelta(days=30), disputed=True)
        bid = b.id
    f = facts_of(engine, as_of)[bid]
    assert f.current == eur(64 + 128)
    assert f.days_1_30 == eur(1)
    assert f.days_31_60 == eur(2 + 4)
    assert f.days_61_90 == eur(8 + 16)
    assert f.days_over_90 == eur(32)
    assert f.overdue_amount == eur(63)
    assert f.days_past_due == 91
    assert f.unpaid_invoice_count == 8
    assert f.disputed_amount == eur(128)
    assert f.aging["90+"] == eur(32)
    # one day later every invoice moves along
    later = facts_of(engine, as_of + timedelta(days=1))[bid]
    assert later.days_1_30 == eur(64) and later.days_31_60 == eur(1 + 2)
    assert later.days_61_90 == eur(4 + 8) and later.days_over_90 == eur(16 + 32)
    assert later.days_past_due == 92
    with engine.connect() as conn:
        (row,) = aging_summary(conn, as_of)
        assert row.currency == "EUR" and row.customers == 1
        assert row.buckets == f.aging and row.total == eur(255)
        top = top_exposures(conn, as_of, limit=1)
        assert [t.customer_id for t in top] == [bid]


def test_overpayment_is_credit_until_the_next_invoice(engine):
    with session_scope(engine) as s:
        c = customer(s)
        invoice(s, c, "INV-1", "100", date(2026, 1, 1), date(2026, 1, 31))
        payment(s, c, "P-1", "150", date(2026, 1, 20))
        allocate(s)
        invoice(s, c, "INV-2", "70", date(2026, 2, 1), date(2026, 3, 3))
        allocate(s)
        cid = c.id
    assert facts_of(engine, date(2026, 1, 19))[cid].unapplied_credit == eur(0)
    mid = facts_of(engine, date(2026, 1, 25))[cid]
    assert mid.unapplied_credit == eur(50) and mid.open_balance == eur(0)
    assert mid.unpaid_invoice_count == 0
    after = facts_of(engine, date(2026, 2, 1))[cid]
    assert after.unapplied_credit == eur(0)
    assert after.open_balance == eur(20) and after.current == eur(20)


def test_facts_exposure_ranks_and_rounds_usage_to_cents(engine):
    with session_scope(engine) as s:
        c = customer(s)
        usage(s, c, date(2026, 1, 1), "0.004")
        usage(s, c, date(2026, 1, 2), "0.002")
        cid = c.id
    f = facts_of(engine, date(2026, 1, 5))[cid]
    assert f.unbilled_usage == eur("0.01")  # 0.006 rated, shown to the cent


def test_top_exposures_ranks_one_currency_at_a_time(engine):
    as_of = date(2026, 2, 1)
    with session_scope(engine) as s:
        small = customer(s, "Small EUR")
        big = customer(s, "Big USD", "USD")
        invoice(s, small, "E-1", "100", date(2026, 1, 1), date(2026, 1, 31))
        invoice(s, big, "U-1", "5000", date(2026, 1, 1), date(2026, 1, 31))
        ids = small.id, big.id
    with engine.connect() as conn:
        assert [f.customer_id for f in top_exposures(conn, as_of)] == [ids[1], ids[0]]
        eur_only = top_exposures(conn, as_of, currency="EUR")
        assert [f.customer_id for f in eur_only] == [ids[0]]
        assert eur_only[0].exposure == eur(100)
        assert [f.customer_id for f in top_exposures(conn, as_of, 5, currency="USD")] == [ids[1]]
        assert top_exposures(conn, as_of, currency="JPY") == []


def test_a_disputed_invoice_is_not_overdue_while_the_dispute_is_open(engine):
    as_of = date(2026, 6, 30)
    with session_scope(engine) as s:
        c = customer(s, "Disputes")
        invoice(
            s,
            c,
            "D-old",
            "500",
            as_of - timedelta(days=70),
            as_of - timedelta(days=40),
            disputed=True,
        )
        invoice(s, c, "D-new", "20", as_of - timedelta(days=30), as_of - timedelta(days=5))
        cid = c.id
    f = facts_of(engine, as_of)[cid]
    assert f.overdue_amount == eur(20) and f.days_past_due == 5
    assert f.open_balance == eur(520) and f.disputed_amount == eur(500)
    assert f.days_31_60 == eur(500)  # the aging still shows it
