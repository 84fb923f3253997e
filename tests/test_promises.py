"""Promises to pay as a collector records them: one at a time, exact and in the customer's
currency, holding escalation from the moment they are recorded, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from book_builders import customer, invoice
from riskdesk.app import promises as uc
from riskdesk.app.bootstrap import bootstrap
from riskdesk.app.clock import FixedClock
from riskdesk.app.promises import PromiseRequest, PromiseStatus
from riskdesk.book.payments import record_payment
from riskdesk.collections.policy import load_policy
from riskdesk.collections.run import run_collections
from riskdesk.config import Settings
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, CollectionState, PromiseToPay
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError
from riskdesk.money import Money

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
TODAY = date(2026, 4, 10)


def deps_on(database_url, day):
    return bootstrap(Settings(database_url=database_url), clock=FixedClock.on(day))


@pytest.fixture
def deps(engine, database_url):
    deps = deps_on(database_url, TODAY)
    yield deps
    deps.close()


def collect(engine, customer_id, day):
    run_collections(engine, load_policy(STANDARD), as_of=day, customer_ids=[customer_id])
    return stage(engine, customer_id)


def stage(engine, customer_id):
    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.stage


@pytest.fixture
def late(engine):
    """Contoso owes INV-1 (1,000.00 EUR, due 15 March): at the final notice on 10 April."""
    with session_scope(engine) as session:
        cust = customer(session, "Contoso", "EUR", domain="contoso.com")
        invoice(session, cust, "INV-1", "1000.00", date(2026, 2, 13), date(2026, 3, 15))
        cid = cust.id
    assert collect(engine, cid, TODAY) == "final_notice"
    return cid


def promise(deps, customer, amount="1000.00 EUR", by=date(2026, 4, 25), note=None):
    request = PromiseRequest(
        customer=str(customer), amount=amount, by_date=by, note=note, execute=False,
        policy=STANDARD,
    )  # fmt: skip
    return uc.add_promise(deps, request, actor="j.doe")


def test_a_promise_holds_escalation_until_its_date(engine, deps, late):
    result = promise(deps, "contoso.com", note="CFO on the phone")
    assert result.amount == Money("1000.00", "EUR") and result.customer_id == late
    assert collect(engine, late, date(2026, 4, 20)) == "final_notice"  # would be suspended
    assert collect(engine, late, date(2026, 4, 25)) == "final_notice"  # its last day
    assert collect(engine, late, date(2026, 4, 26)) == "suspended"
    with session_scope(engine) as session:
        row = session.get_one(PromiseToPay, result.promise_id)
        assert (row.promised_on, row.due_on, row.created_by, row.note) == (
            TODAY,
            date(2026, 4, 25),
            "j.doe",
            "CFO on the phone",
        )
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "promise.added"))
        assert event.one().data["promise_id"] == result.promise_id


def test_a_promise_lifts_a_suspension_at_once(engine, database_url, late):
    assert collect(engine, late, date(2026, 4, 20)) == "suspended"
    later = deps_on(database_url, date(2026, 4, 20))
    try:
        result = promise(later, late, by=date(2026, 4, 30))
    finally:
        later.close()
    assert [(d.previous_stage, d.stage, d.reason) for d in result.followed.transitions] == [
        ("suspended", "final_notice", "promise_lifts_suspension")
    ]
    assert stage(engine, late) == "final_notice"


def test_cancelling_a_promise_resumes_escalation_at_once(engine, database_url, deps, late):
    added = promise(deps, late)
    later = deps_on(database_url, date(2026, 4, 20))
    try:
        assert collect(engine, late, date(2026, 4, 20)) == "final_notice"
        result = uc.cancel_promise(
            later, added.promise_id, reason="customer withdrew", actor="a.lee",
            execute=False, policy=STANDARD,
        )  # fmt: skip
        assert [(d.previous_stage, d.stage) for d in result.followed.transitions] == [
            ("final_notice", "suspended")
        ]
        with pytest.raises(ConflictError, match=r"promise #\d+ of customer 'Contoso' .* is "
                           "cancelled, not active"):  # fmt: skip
            uc.cancel_promise(later, added.promise_id, actor="a.lee", execute=False)
        with pytest.raises(NotFoundError, match="unknown promise to pay #999"):
            uc.cancel_promise(later, 999, actor="a.lee", execute=False)
    finally:
        later.close()
    with session_scope(engine) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "promise.cancelled")
        ).one()
        assert (event.actor, event.data["reason"]) == ("a.lee", "customer withdrew")


def test_one_promise_at_a_time(engine, deps, late):
    first = promise(deps, late)
    with pytest.raises(ConflictError) as refused:
        promise(deps, late, by=date(2026, 5, 30))
    message = str(refused.value)
    assert f"already has promise #{first.promise_id} to pay 1,000.00 EUR by 2026-04-25" in message
    assert "cancel that one before recording a new one" in message
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(PromiseToPay)) == 1


def test_a_lapsed_promise_is_judged_when_the_next_is_recorded(engine, database_url, deps, late):
    kept = promise(deps, late, amount="400.00 EUR", by=date(2026, 4, 15))
    with session_scope(engine) as session:
        record_payment(
            session,
            customer_id=late,
            reference="BANK-1",
            received_on=date(2026, 4, 14),
            amount=Money("400.00", "EUR"),
        )
    may = deps_on(database_url, date(2026, 4, 20))
    try:
        shown = uc.list_promises(may, customer="Contoso")
        assert [(p.id, p.status, p.lapsed, p.paid) for p in shown] == [
            (kept.promise_id, "active", True, Money("400.00", "EUR"))
        ]
        broken = promise(may, late, amount="600.00 EUR", by=date(2026, 4, 22))
    finally:
        may.close()
    later = deps_on(database_url, date(2026, 4, 23))
    try:
        third = promise(later, late, amount="600.00 EUR", by=date(2026, 4, 30))
        statuses = {p.id: p.status for p in uc.list_promises(later, customer=str(late))}
        assert statuses == {
            kept.promise_id: "kept",
            broken.promise_id: "broken",
            third.promise_id: "active",
        }
        active = uc.list_promises(later, status=PromiseStatus.ACTIVE)
        assert [p.id for p in active] == [third.promise_id]
    finally:
        later.close()


def test_the_amount_is_exact_and_in_the_customers_currency(engine, deps, late):
    def refused(amount, by=date(2026, 4, 25)):
        with pytest.raises(InvalidInputError) as caught:
            promise(deps, late, amount=amount, by=by)
        return str(caught.value)

    assert "is invoiced in EUR, so the promise must be in EUR" in refused("1000.00 USD")
    assert "amount 1000.005 EUR is finer than EUR allows (2 decimals)" in refused("1000.005 EUR")
    assert "give a number and a currency code" in refused("a thousand")
    assert "must be positive" in refused("0 EUR")
    assert "2026-04-09: that day is before today (2026-04-10)" in refused(
        "1000.00 EUR", by=date(2026, 4, 9)
    )
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(PromiseToPay)) == 0
    same_day = promise(deps, late, amount="1000", by=TODAY)  # today is allowed; EUR implied
    assert same_day.amount == Money("1000.00", "EUR")


def test_an_unknown_customer_is_not_found(engine, deps, late):
    with pytest.raises(NotFoundError, match="unknown customer 'nobody.example'"):
        promise(deps, "nobody.example")
    with pytest.raises(NotFoundError, match="unknown customer 'nobody.example'"):
        uc.list_promises(deps, customer="nobody.example")
