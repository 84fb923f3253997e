"""`payments reverse` as a user runs it (Typer app in-process), on SQLite and PostgreSQL: a
bounced payment is reversed, kept with who and why, what it paid is open again, the
customer's other money re-applied, and the customer judged again at once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from book_builders import customer, invoice
from riskdesk.app.clock import FixedClock
from riskdesk.book.facts import customer_facts
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, CollectionState, Payment, PaymentAllocation
from riskdesk.money import Money

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
TODAY = "2026-04-10"
runner = CliRunner()


def invoke(database_url, *args):
    return runner.invoke(
        app,
        ["--database-url", database_url, *args],
        env={"COLUMNS": "200"},
        obj=Overrides(clock=FixedClock.on(TODAY)),
    )


def _book(database_url, engine) -> int:
    """Fabrikam: INV-7001 (1,200.00, due 31 Jan) paid by BANK-1 (received 1 Feb); INV-7002
    (350.25, due 3 Mar) paid by BANK-2 (500.00, received 1 Apr), which leaves 149.75 credit;
    in good standing after a collections run."""
    with session_scope(engine) as s:
        cust = customer(s, "Fabrikam Ltd", "EUR", pcid="tenant-fab")
        cust.billing_email = "billing@fabrikam.example"
        invoice(s, cust, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        invoice(s, cust, "INV-7002", "350.25", date(2026, 2, 1), date(2026, 3, 3))
        cust_id = cust.id
    for ref, amount, day, named in (
        ("BANK-1", "1200.00", "2026-02-01", ["--invoice", "INV-7001"]),
        ("BANK-2", "500.00", "2026-04-01", []),
    ):
        paid = invoke(
            database_url,
            "payments",
            "record",
            str(cust_id),
            amount,
            "EUR",
            "--reference",
            ref,
            "--received-on",
            day,
            *named,
            "--no-execute",
            "--policy",
            str(STANDARD),
        )
        assert paid.exit_code == 0, paid.output
    return cust_id


def _reverse(database_url, reference, *extra):
    return invoke(
        database_url,
        "payments",
        "reverse",
        reference,
        "--reason",
        "bounced: account closed",
        "--by",
        "j.doe",
        "--no-execute",
        "--policy",
        str(STANDARD),
        *extra,
    )


def test_a_bounced_payment_is_reversed_and_the_customer_judged_again(database_url, engine):
    cust = _book(database_url, engine)
    with engine.connect() as conn:
        (before,) = customer_facts(conn, date.fromisoformat(TODAY), [cust])
    assert before.open_balance == Money(0, "EUR")
    assert before.unapplied_credit == Money("149.75", "EUR")

    result = _reverse(database_url, "BANK-1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reference"] == "BANK-1"
    assert report["allocations_removed"] == [
        {"invoice": "INV-7001", "amount": {"amount": "1200.00", "currency": "EUR"}}
    ]
    assert report["allocations_created"] == 1  # BANK-2's credit re-applied to INV-7001
    # INV-7001 is 69 days past due again: the customer goes back into collections at once.
    assert [t["from"] for t in report["transitions"]] == [None]
    assert report["transitions"][0]["to"] is not None

    with engine.connect() as conn:
        (after,) = customer_facts(conn, date.fromisoformat(TODAY), [cust])
        # As of a day before the reversal too: the payment counts for no day.
        (earlier,) = customer_facts(conn, date(2026, 2, 15), [cust])
    assert after.open_balance == Money("1050.25", "EUR")
    assert after.overdue_amount == Money("1050.25", "EUR")
    assert after.unapplied_credit == Money(0, "EUR")
    assert earlier.open_balance == Money("1550.25", "EUR")
    assert earlier.unapplied_credit == Money(0, "EUR")
    with session_scope(engine) as s:
        bounced = s.scalar(select(Payment).where(Payment.reference == "BANK-1"))
        assert bounced is not None  # kept, never deleted
        assert bounced.reversed_by == "j.doe"
        assert bounced.reversal_reason == "bounced: account closed"
        assert bounced.reversed_at is not None
        assert (
            s.scalars(
                select(PaymentAllocation).where(PaymentAllocation.payment_id == bounced.id)
            ).all()
            == []
        )
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "payment.reversed"))
        assert event is not None and event.actor == "j.doe"
        assert event.data["reason"] == "bounced: account closed"
        assert event.data["amount"] == "1200.00" and event.data["currency"] == "EUR"
        assert event.data["allocations_removed"][0]["invoice"] == "INV-7001"
        assert s.get(CollectionState, cust).stage is not None


def test_reversing_twice_is_a_conflict_and_changes_nothing(database_url, engine):
    _book(database_url, engine)
    assert _reverse(database_url, "BANK-2").exit_code == 0
    with session_scope(engine) as s:
        events = len(s.scalars(select(AuditEvent)).all())
    again = _reverse(database_url, "BANK-2")
    assert again.exit_code == 4, again.output
    assert "payment 'BANK-2' is already reversed" in " ".join(again.output.split())
    with session_scope(engine) as s:
        assert len(s.scalars(select(AuditEvent)).all()) == events


def test_an_unknown_reference_is_not_found_naming_similar_ones(database_url, engine):
    _book(database_url, engine)
    result = _reverse(database_url, "bank")
    assert result.exit_code == 3, result.output
    message = " ".join(result.output.split())
    assert "unknown payment reference 'bank'" in message
    assert "'BANK-1', 'BANK-2'" in message


def test_a_reversal_needs_a_reason(database_url, engine):
    _book(database_url, engine)
    result = invoke(database_url, "payments", "reverse", "BANK-1", "--reason", " ", "--by", "j.doe")
    assert result.exit_code == 2, result.output
    assert "a reversal needs a reason" in result.output
