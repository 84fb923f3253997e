"""The demo book: deterministic by seed, consistent, and true to its ground-truth file."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from riskdesk.audit import verify_chain
from riskdesk.db.engine import make_engine, migrate, session_scope
from riskdesk.db.models import (
    AuditEvent,
    Customer,
    Invoice,
    InvoiceLine,
    Order,
    Payment,
    PaymentAllocation,
    Subscription,
    UsageRecord,
)
from riskdesk.demo import build_demo_book, generate_book
from riskdesk.demo.catalog import GPU_METERS, RESERVATION_OFFER

AS_OF = date(2026, 3, 18)
SEED = 11
SIZE = {"customers": 60, "months": 3, "as_of": AS_OF}
GPU_IDS = {m.meter_id for m in GPU_METERS}
PLANTED = {
    "habitually_late",
    "deteriorating",
    "defaulting",
    "disputing",
    "partial_payer",
    "gpu_burst",
    "runaway_spend",
    "new_region",
    "signup_fraud",
    "overpayment",
}


def _snapshot(engine) -> dict[str, list[tuple]]:
    """The book's rows that a user would compare, in a database-independent form."""
    c, i, p, a, u, o = (
        Customer.__table__.c,
        Invoice.__table__.c,
        Payment.__table__.c,
        PaymentAllocation.__table__.c,
        UsageRecord.__table__.c,
        Order.__table__.c,
    )
    queries = {
        "customers": select(
            c.id, c.provider_customer_id, c.name, c.currency, c.credit_limit_micros, c.created_on
        ).order_by(c.id),
        "invoices": select(
            i.id, i.customer_id, i.number, i.issued_on, i.due_on, i.total_micros, i.disputed
        ).order_by(i.id),
        "payments": select(
            p.id, p.customer_id, p.reference, p.received_on, p.amount_micros
        ).order_by(p.id),
        "allocations": select(a.payment_id, a.invoice_id, a.applied_on, a.amount_micros).order_by(
            a.id
        ),
        "usage": select(
            u.customer_id, u.meter_id, u.region, func.count(), func.sum(u.amount_micros)
        )
        .group_by(u.customer_id, u.meter_id, u.region)
        .order_by(u.customer_id, u.meter_id, u.region),
        "usage_hashes": select(u.row_hash, u.usage_date, u.invoice_number).order_by(u.id),
        "orders": select(
            o.id, o.provider_order_id, o.created_at, o.amount_micros, o.status
        ).order_by(o.id),
    }
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.execute(query)]
            for name, query in queries.items()
        }


@pytest.fixture
def demo(engine, tmp_path):
    truth_path = tmp_path / "truth.json"
    summary = build_demo_book(engine, seed=SEED, truth_path=truth_path, **SIZE)
    return engine, summary, json.loads(truth_path.read_text())


def test_same_seed_gives_the_same_book_on_any_database(demo, tmp_path):
    engine, summary, truth = demo
    other = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    migrate(other)
    again_truth = tmp_path / "again.json"
    again = build_demo_book(other, seed=SEED, truth_path=again_truth, **SIZE)
    assert again.counts == summary.counts
    assert again.behaviours == summary.behaviours
    assert json.loads(again_truth.read_text()) == truth
    first, second = _snapshot(engine), _snapshot(other)
    other.dispose()
    for name in first:
        assert first[name] == second[name], name
    assert all(first[name] for name in first)


def test_a_different_seed_gives_a_different_book():
    one = generate_book(customers=60, seed=SEED, as_of=AS_OF, months=3)
    two = generate_book(customers=60, seed=12, as_of=AS_OF, months=3)
    assert one.tables["customers"][1] != two.tables["customers"][1]
    assert one.tables["invoices"][1] != two.tables["invoices"][1]
    assert one.truth != two.truth


def _columns(book, table: str, *names: str) -> list[tuple]:
    columns, rows = book.tables[table]
    positions = [columns.index(name) for name in names]
    return [tuple(row[p] for p in positions) for row in rows]


def test_bulk_mode_keeps_usage_of_the_last_days_only_and_the_rest_of_the_book():
    full = generate_book(customers=200, seed=SEED, as_of=AS_OF, months=3)
    bulk = generate_book(customers=200, seed=SEED, as_of=AS_OF, months=3, usage_days=5)
    again = generate_book(customers=200, seed=SEED, as_of=AS_OF, months=3, usage_days=5)
    assert bulk.tables == again.tables and bulk.truth == again.truth
    days = {d for (d,) in _columns(bulk, "usage_records", "usage_date")}
    assert days == {(AS_OF - timedelta(days=k)).isoformat() for k in range(1, 6)}
    assert len(bulk.tables["usage_records"][1]) < len(full.tables["usage_records"][1]) / 10
    # Customers, subscriptions and seat invoices are the same book's (credit limits follow
    # the invoice totals, so they may differ).
    who = ("id", "provider_customer_id", "name", "created_on")
    assert _columns(bulk, "customers", *who) == _columns(full, "customers", *who)
    assert bulk.tables["subscriptions"] == full.tables["subscriptions"]
    seat_lines = [r for r in _columns(full, "invoice_lines", "description") if "licences" in r[0]]
    assert seat_lines == [
        r for r in _columns(bulk, "invoice_lines", "description") if "licences" in r[0]
    ]
    with pytest.raises(ValueError, match="usage_days"):
        generate_book(customers=20, seed=SEED, as_of=AS_OF, months=3, usage_days=0)


def test_shares_plant_more_of_a_behaviour():
    book = generate_book(
        customers=200, seed=SEED, as_of=AS_OF, months=3, shares={"defaulting": 0.25}
    )
    defaulting = [r for r in book.truth if r["behaviour"] == "defaulting"]
    assert len(defaulting) == 50
    with pytest.raises(ValueError, match="unknown behaviour 'mining'"):
        generate_book(customers=20, seed=SEED, as_of=AS_OF, months=3, shares={"mining": 0.1})


def test_summary_counts_match_the_tables_and_an_audit_event_records_the_run(demo):
    engine, summary, truth = demo
    tables = {
        "customers": Customer,
        "subscriptions": Subscription,
        "invoices": Invoice,
        "invoice_lines": InvoiceLine,
        "payments": Payment,
        "payment_allocations": PaymentAllocation,
        "usage_records": UsageRecord,
        "orders": Order,
        "audit_events": AuditEvent,
    }
    with session_scope(engine) as session:
        for name, model in tables.items():
            assert session.scalar(select(func.count()).select_from(model)) == summary.counts[name]
        event = session.scalars(select(AuditEvent)).one()
        assert event.action == "demo.generated"
        assert event.data["seed"] == SEED
        assert event.data["counts"]["customers"] == 60
        assert verify_chain(session) is None
    assert summary.behaviours == truth["behaviour_counts"]
    assert set(summary.behaviours) == PLANTED


def test_ids_continue_after_the_demo_rows(demo):
    engine, _, _ = demo
    with session_scope(engine) as session:
        customer = Customer(
            provider_customer_id="new-one", name="New", currency="EUR", created_on=AS_OF
        )
        session.add(customer)
        session.flush()
        assert customer.id == 61


def test_book_is_consistent(demo):
    engine, summary, _ = demo
    with session_scope(engine) as session:
        invoices = {inv.id: inv for inv in session.scalars(select(Invoice))}
        payments = {p.id: p for p in session.scalars(select(Payment))}
        allocations = list(session.scalars(select(PaymentAllocation)))
        line_sums = dict(
            session.execute(
                select(
                    InvoiceLine.invoice_id, func.sum(InvoiceLine.__table__.c.amount_micros)
                ).group_by(InvoiceLine.invoice_id)
            ).all()
        )
        alloc_by_payment, alloc_by_invoice = defaultdict(int), defaultdict(int)
        for a in allocations:
            payment, invoice = payments[a.payment_id], invoices[a.invoice_id]
            assert a.applied_on == payment.received_on
            assert payment.customer_id == invoice.customer_id
            assert payment.currency == invoice.currency
            assert 0 < a.amount <= payment.amount
            alloc_by_payment[a.payment_id] += a.amount
            alloc_by_invoice[a.invoice_id] += a.amount
        for payment_id, amount in alloc_by_payment.items():
            assert amount <= payments[payment_id].amount
        for invoice_id, amount in alloc_by_invoice.items():
            assert amount <= invoices[invoice_id].total
        for inv in invoices.values():
            assert inv.due_on >= inv.issued_on
            assert inv.issued_on <= AS_OF
            assert inv.total == line_sums[inv.id]
        assert max(p.received_on for p in payments.values()) < AS_OF
        usage = UsageRecord.__table__.c
        last_usage = session.scalar(select(func.max(usage.usage_date)))
        assert last_usage < AS_OF
        # billed months carry an invoice number of that customer; the current month none
        month_start = AS_OF.replace(day=1)
        rows = session.execute(
            select(usage.customer_id, usage.usage_date, usage.invoice_number)
        ).all()
        numbers = {(inv.customer_id, inv.number) for inv in invoices.values()}
        for customer_id, day, number in rows:
            if day >= month_start:
                assert number is None
            else:
                assert (customer_id, number) in numbers
        hashes = session.scalar(select(func.count(func.distinct(usage.row_hash))))
        assert hashes == summary.counts["usage_records"]
        statuses = dict(
            session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        assert statuses.get("open") and statuses.get("invoiced")


def _usage(session, subscription_id: int):
    u = UsageRecord.__table__.c
    return session.execute(
        select(u.usage_date, u.meter_id, u.region, u.quantity, u.amount_micros).where(
            u.subscription_id == subscription_id
        )
    ).all()


def test_every_planted_behaviour_is_in_the_book(demo):
    engine, _, truth = demo
    assert truth["seed"] == SEED and truth["as_of"] == AS_OF.isoformat()
    assert {r["behaviour"] for r in truth["records"]} == PLANTED
    with session_scope(engine) as session:
        customers = {c.id: c for c in session.scalars(select(Customer))}
        subs = {s.id: s for s in session.scalars(select(Subscription))}
        payments = defaultdict(list)
        for p in session.scalars(select(Payment)):
            payments[p.customer_id].append(p)
        invoices = defaultdict(list)
        for inv in session.scalars(select(Invoice)):
            invoices[inv.customer_id].append(inv)
        allocations = defaultdict(list)
        for a in session.scalars(select(PaymentAllocation)):
            allocations[a.invoice_id].append(a)
        disputing = set()
        for record in truth["records"]:
            customer = customers[record["customer_id"]]
            assert customer.provider_customer_id == record["customer"]
            start = date.fromisoformat(record["start"])
            details = record["details"]
            behaviour = record["behaviour"]
            own_payments = payments[customer.id]
            if record["subscription_id"] is not None:
                sub = subs[record["subscription_id"]]
                assert sub.provider_subscription_id == record["subscription"]
                assert sub.customer_id == customer.id
            if behaviour == "defaulting":
                assert all(p.received_on < start for p in own_payments)
                overdue = [inv for inv in invoices[customer.id] if inv.due_on < AS_OF]
                assert any(not allocations[inv.id] for inv in overdue)
            elif behaviour == "deteriorating":
                stop = date.fromisoformat(details["stops_paying_on"])
                assert all(p.received_on < stop for p in own_payments)
                late = [
                    a.applied_on - inv.due_on
                    for inv in invoices[customer.id]
                    if inv.due_on >= start
                    for a in allocations[inv.id]
                ]
                assert all(days > timedelta(0) for days in late)
            elif behaviour == "habitually_late":
                for inv in invoices[customer.id]:
                    for a in allocations[inv.id]:
                        assert a.applied_on >= inv.due_on + timedelta(days=10)
            elif behaviour == "disputing":
                disputing.add(customer.id)
                disputed = {inv.number for inv in invoices[customer.id] if inv.disputed}
                assert disputed == set(details["disputed_invoices"])
                for inv in invoices[customer.id]:
                    if inv.disputed:
                        assert not allocations[inv.id]
            elif behaviour == "partial_payer":
                partly = [
                    inv
                    for inv in invoices[customer.id]
                    if allocations[inv.id] and allocations[inv.id][0].amount < inv.total
                ]
                assert partly
            elif behaviour == "overpayment":
                assert any(p.amount > sum(a.amount for a in p.allocations) for p in own_payments)
            elif behaviour == "signup_fraud":
                assert customer.created_on >= AS_OF - timedelta(days=35)
                assert start == customer.created_on
                assert not own_payments
                orders = session.scalars(
                    select(Order).where(Order.customer_id == customer.id)
                ).all()
                assert any(o.offer_id == RESERVATION_OFFER.offer_id for o in orders)
                rows = _usage(session, sub.id)
                assert {m for _, m, _, _, _ in rows} & GPU_IDS
            elif behaviour == "gpu_burst":
                rows = _usage(session, sub.id)
                gpu_days = [d for d, m, _, _, _ in rows if m in GPU_IDS]
                assert min(gpu_days) == start
                assert {m for _, m, _, _, _ in rows if m in GPU_IDS} == {details["meter_id"]}
                before = {r for d, _, r, _, _ in rows if d < start}
                assert (details["region"] not in before) == details["new_region"]
            elif behaviour == "new_region":
                rows = _usage(session, sub.id)
                in_region = [d for d, _, r, _, _ in rows if r == details["region"]]
                assert min(in_region) == start
            elif behaviour == "runaway_spend":
                daily = defaultdict(float)
                for d, m, r, q, _ in _usage(session, sub.id):
                    if m == details["meter_id"] and r == details["region"]:
                        daily[d] += q
                before = [q for d, q in daily.items() if start - timedelta(days=14) <= d < start]
                after = [daily[AS_OF - timedelta(days=k)] for k in (1, 2)]
                assert min(after) > 2 * (sum(before) / len(before))
        # nobody outside the truth file disputes or uses a GPU meter
        for customer_id, own in invoices.items():
            if customer_id not in disputing:
                assert not any(inv.disputed for inv in own)
        gpu_customers = {
            r["customer_id"]
            for r in truth["records"]
            if r["behaviour"] in ("gpu_burst", "signup_fraud")
        }
        u = UsageRecord.__table__.c
        users = set(
            session.scalars(select(u.customer_id).where(u.meter_id.in_(GPU_IDS)).distinct())
        )
        assert users == gpu_customers


def test_on_time_usage_is_lower_at_weekends(demo):
    engine, _, truth = demo
    planted = {r["customer_id"] for r in truth["records"]}
    u = UsageRecord.__table__.c
    with engine.connect() as connection:
        rows = connection.execute(select(u.customer_id, u.usage_date, u.amount_micros)).all()
    daily = defaultdict(int)
    for customer_id, day, amount in rows:
        if customer_id not in planted:
            daily[day] += amount
    weekend = [v for d, v in daily.items() if d.weekday() >= 5]
    weekday = [v for d, v in daily.items() if d.weekday() < 5]
    assert weekend and weekday
    # weekend mean at least 10% below the weekday mean
    assert 10 * sum(weekend) * len(weekday) < 9 * sum(weekday) * len(weekend)


def test_a_non_empty_book_is_refused(demo):
    engine, _, _ = demo
    with pytest.raises(Exception, match="already has customers"):
        build_demo_book(engine, seed=SEED, **SIZE)
