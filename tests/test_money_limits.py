"""The largest amount riskdesk stores, and sums past BIGINT that stay exact (issue 13, item 2).

On SQLite and PostgreSQL: an amount of 10^12 units or more is refused at every entry point
with one error naming the value and where; a customer (or the book) owing more than the
9.2 trillion units a BIGINT of micros holds is summed exactly by every whole-book command.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from book_builders import customer, invoice, order, payment, usage
from riskdesk.app.clock import FixedClock
from riskdesk.book.facts import aging_summary, customer_facts, top_exposures
from riskdesk.book.payments import allocate
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.collections.policy import load_policy
from riskdesk.collections.run import run_collections
from riskdesk.db.engine import session_scope
from riskdesk.db.models import Payment, PaymentAllocation
from riskdesk.imports import ImportFileError, import_file
from riskdesk.money import Money

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
TODAY = "2026-04-10"
runner = CliRunner()

# The reporter's amount: two of them were accepted and broke every whole-book command.
REPORTED = "9223372036854.77"
# The largest amount riskdesk stores in EUR (just below 10^12 units).
LARGEST = "999999999999.99"


def invoke(database_url, *args):
    return runner.invoke(
        app,
        ["--database-url", database_url, *args],
        env={"COLUMNS": "200"},
        obj=Overrides(clock=FixedClock.on(TODAY)),
    )


def _payments(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Payment)) or 0


def test_the_reporters_payments_are_refused_and_every_command_still_works(database_url, engine):
    with session_scope(engine) as s:
        cust = customer(s, "Fabrikam Ltd", "EUR")
        invoice(s, cust, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        cust_id = cust.id
    for reference in ("BANK-1", "BANK-2"):
        result = invoke(
            database_url,
            "payments",
            "record",
            str(cust_id),
            REPORTED,
            "EUR",
            "--reference",
            reference,
            "--no-execute",
            "--policy",
            str(STANDARD),
        )
        assert result.exit_code == 2, result.output
        message = " ".join(result.output.split())
        assert f"payment '{reference}': amount {REPORTED} EUR is too large" in message
        assert "Traceback" not in result.output
    assert _payments(engine) == 0
    listed = invoke(database_url, "customers", "list", "--json")
    assert listed.exit_code == 0, listed.output
    aged = invoke(database_url, "aging", "--as-of", TODAY)
    assert aged.exit_code == 0, aged.output
    run = invoke(database_url, "collections", "run", "--no-execute", "--policy", str(STANDARD))
    assert run.exit_code == 0, run.output
    # The largest amount riskdesk stores is taken.
    ok = invoke(
        database_url,
        "payments",
        "record",
        str(cust_id),
        LARGEST,
        "EUR",
        "--reference",
        "BANK-3",
        "--no-execute",
        "--policy",
        str(STANDARD),
    )
    assert ok.exit_code == 0, ok.output


def _huge_book(engine) -> tuple[int, int]:
    """Whale owes fifteen invoices of the largest amount (about 15 trillion EUR, past BIGINT
    in micros), has paid two of them with two payments, and has usage and an order of the
    largest amount too; Minnow owes 10 EUR."""
    with session_scope(engine) as s:
        whale = customer(s, "Whale", "EUR")
        minnow = customer(s, "Minnow", "EUR")
        first = date(2025, 1, 1)
        for k in range(15):
            issued = first + timedelta(days=10 * k)
            invoice(s, whale, f"W-{k}", LARGEST, issued, issued + timedelta(days=30))
        payment(s, whale, "WP-1", LARGEST, date(2025, 6, 1))
        payment(s, whale, "WP-2", LARGEST, date(2025, 6, 2))
        usage(s, whale, date(2026, 4, 1), LARGEST)
        order(s, whale, LARGEST, date(2026, 4, 2))
        invoice(s, minnow, "M-1", "10", date(2026, 3, 1), date(2026, 3, 31))
        allocate(s)
        return whale.id, minnow.id


def test_sums_past_bigint_are_exact_in_facts_aging_and_exposure(engine):
    whale, minnow = _huge_book(engine)
    largest = Decimal(LARGEST)
    as_of = date.fromisoformat(TODAY)
    with engine.connect() as conn:
        facts = {f.customer_id: f for f in customer_facts(conn, as_of)}
        aging = aging_summary(conn, as_of)
        top = top_exposures(conn, as_of, 2)
    w = facts[whale]
    assert w.open_balance == Money(13 * largest, "EUR")  # 12,999,999,999,999.87
    assert w.overdue_amount == w.open_balance == w.days_over_90
    assert w.unpaid_invoice_count == 13
    assert w.unbilled_usage == w.open_orders == Money(largest, "EUR")
    assert w.exposure == Money(15 * largest, "EUR")
    assert facts[minnow].open_balance == Money(10, "EUR")
    (eur,) = aging
    assert eur.total == Money(13 * largest + 10, "EUR") and eur.customers == 2
    assert eur.days_over_90 == Money(13 * largest, "EUR")
    assert [f.customer_id for f in top] == [whale, minnow]
    # Allocation of the two payments: the two oldest invoices, exactly.
    with session_scope(engine) as s:
        amounts = s.scalars(select(PaymentAllocation.amount)).all()
    assert sorted(amounts) == [largest, largest]


def test_allocation_past_bigint_is_exact_and_matches_the_set_based_rule(engine):
    """A payment recorded for a customer whose open invoices add up past BIGINT is applied
    oldest-first, as for anyone else."""
    whale, _ = _huge_book(engine)
    with session_scope(engine) as s:
        from riskdesk.book.payments import record_payment

        record_payment(
            s,
            customer_id=whale,
            reference="WP-3",
            received_on=date(2026, 4, 1),
            amount=Money(LARGEST, "EUR"),
        )
        record_payment(
            s,
            customer_id=whale,
            reference="WP-4",
            received_on=date(2026, 4, 2),
            amount=Money("100.01", "EUR"),
        )
    with engine.connect() as conn:
        (w,) = customer_facts(conn, date.fromisoformat(TODAY), [whale])
    assert w.open_balance == Money(12 * Decimal(LARGEST) - Decimal("100.01"), "EUR")
    with session_scope(engine) as s:
        rows = s.execute(
            select(Payment.reference, PaymentAllocation.amount)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .order_by(PaymentAllocation.id)
        ).all()
    assert [(r, str(a)) for r, a in rows][-2:] == [
        ("WP-3", "999999999999.990000"),
        ("WP-4", "100.010000"),
    ]


def test_a_collections_run_over_a_book_past_bigint_completes(engine):
    whale, minnow = _huge_book(engine)
    report = run_collections(
        engine, load_policy(STANDARD), as_of=date.fromisoformat(TODAY), actor="test"
    )
    moved = {d.customer_id for d in report.transitions}
    assert whale in moved


def test_imported_amounts_beyond_the_limit_are_refused_naming_line_and_column(engine, tmp_path):
    with session_scope(engine) as s:
        customer(s, "Fabrikam Ltd", "EUR", pcid="tenant-fab")
    path = tmp_path / "payments.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "customer", "received_on", "currency", "amount"])
        writer.writerow(["P1", "tenant-fab", "2026-02-10", "EUR", REPORTED])
        writer.writerow(["P2", "tenant-fab", "2026-02-10", "EUR", LARGEST])
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", path)
    (error,) = caught.value.errors
    assert (error.line, error.column) == (2, "amount")
    assert f"amount {REPORTED} EUR is too large" in error.message
    assert _payments(engine) == 0


def test_the_column_type_refuses_an_amount_beyond_the_limit(engine):
    """The last line: nothing stored can make the book's arithmetic overflow."""
    with session_scope(engine) as s:
        cust = customer(s, "Fabrikam Ltd", "EUR")
    with (
        pytest.raises(Exception, match="beyond the largest riskdesk stores"),
        session_scope(engine) as s,
    ):
        payment(s, cust, "P-1", REPORTED, date(2026, 2, 1))
    assert _payments(engine) == 0


def test_customers_list_json_shows_exact_totals_past_bigint(database_url, engine):
    whale, _ = _huge_book(engine)
    listed = invoke(database_url, "customers", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["customer_id"]: r for r in json.loads(listed.output)}
    assert rows[whale]["open_balance"] == {"amount": "12999999999999.87", "currency": "EUR"}
    assert rows[whale]["exposure"] == {"amount": "14999999999999.85", "currency": "EUR"}


def test_provider_usage_beyond_the_limit_is_refused_before_the_book_is_touched(engine):
    from riskdesk.providers.auth import StaticToken
    from riskdesk.providers.errors import ProviderResponseError
    from riskdesk.providers.partner_center import PartnerCenter
    from riskdesk.providers.sandbox import UsageRow, sample_state, start_sandbox
    from riskdesk.providers.sync import sync_book
    from riskdesk.providers.sync_write import currency_of

    state = sample_state(seed=3)
    tenant = next(iter(state.customers.values()))
    currency = currency_of(tenant, "USD")
    huge = UsageRow(
        tenant.id, "plan", None, "2026-06-01", "meter", None, None, None, "1", None,
        currency, REPORTED, None,
    )  # fmt: skip
    state.add_usage([huge])
    with start_sandbox(state) as sandbox:
        provider = PartnerCenter(
            StaticToken(sandbox.token), base_url=sandbox.base_url, backoff_base=0.01
        )
        with pytest.raises(ProviderResponseError) as caught:
            sync_book(engine, provider)
    message = str(caught.value)
    assert f"usage of customer {tenant.id}, subscription plan on 2026-06-01" in message
    assert f"amount {REPORTED} {currency} is too large" in message
    with session_scope(engine) as s:
        from riskdesk.db.models import Customer

        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_the_split_sums_give_the_same_facts_as_the_plain_ones(engine):
    """The statement taken after an overflow (units and remainders summed apart) agrees with
    the everyday one on a book of positive, negative and fractional amounts."""
    from riskdesk.book import facts as book_facts
    from riskdesk.book import facts_sql

    with session_scope(engine) as s:
        a = customer(s, "Contoso", "EUR")
        b = customer(s, "Fabrikam", "USD")
        for k, total in enumerate(["100.01", "-20.50", "0.99", "999.99", "12.34"]):
            issued = date(2026, 1, 1 + k)
            invoice(s, a, f"A-{k}", total, issued, issued + timedelta(days=20 + 25 * k))
            invoice(s, b, f"B-{k}", total, date(2025, 11, 1 + k), date(2025, 12, 1 + k))
        payment(s, a, "PA", "50.55", date(2026, 2, 10))
        payment(s, b, "PB", "5000.10", date(2026, 1, 10))
        usage(s, a, date(2026, 3, 1), "0.123456")
        usage(s, a, date(2026, 3, 2), "-0.5")
        order(s, b, "7.77", date(2026, 3, 3))
        allocate(s)
    as_of = date(2026, 4, 10)
    with engine.connect() as conn:
        dialect = conn.dialect.name
        results = []
        for split in (False, True):
            sql = facts_sql.facts_sql(dialect, None, order_by="c.id", limit=False, split=split)
            rows = book_facts._fetch(
                conn, facts_sql.clause_for(sql, None), facts_sql.params_for(as_of, None)
            )
            results.append(book_facts._rows_to_facts(rows, as_of, split))
    assert results[0] == results[1]
    assert results[0][0].unbilled_usage == Money("-0.38", "EUR")
