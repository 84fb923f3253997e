"""customers, invoices, payments (the reseller's own files) and pc-invoice, on both databases."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from riskdesk.book.disputes import resolve_dispute
from riskdesk.book.facts import customer_facts
from riskdesk.cli import app
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    AuditEvent,
    Customer,
    DisputeOutcome,
    Invoice,
    InvoiceDispute,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    ProviderInvoiceLine,
)
from riskdesk.imports import ImportFileError, import_file
from riskdesk.imports.pc_columns import INVOICE_RECONCILIATION

T1 = "196e2273-9651-43a3-ba7e-7cbcd918fc40"
T2 = "0c5b1e41-2f0b-4c9e-9d51-1a8f3e0b7c22"


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


CUSTOMER_HEADER = [
    "provider_customer_id",
    "name",
    "domain",
    "country",
    "billing_email",
    "currency",
    "payment_terms_days",
    "credit_limit",
    "tags",
    "created_on",
]


def load_customers(engine, tmp_path) -> None:
    path = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        [
            [
                T1,
                "Contoso, Ltd.",
                "contoso.com",
                "de",
                "ap@contoso.com",
                "EUR",
                "14",
                "5000.50",
                "gold; new",
                "2025-03-01",
            ],
            [T2, "Fabrikam", "", "", "", "GBP", "", "", "", ""],
        ],
    )
    result = import_file(engine, "customers", path)
    assert result.rows_inserted == 2


def test_customers_land_and_reimport_skips_them(engine, tmp_path):
    load_customers(engine, tmp_path)
    with session_scope(engine) as session:
        contoso = session.scalars(select(Customer).where(Customer.provider_customer_id == T1)).one()
        assert contoso.name == "Contoso, Ltd."
        assert contoso.country == "DE"
        assert contoso.payment_terms_days == 14
        assert contoso.credit_limit == Decimal("5000.50")
        assert contoso.tags == ["gold", "new"]
        assert contoso.created_on == date(2025, 3, 1)
        fabrikam = session.scalars(
            select(Customer).where(Customer.provider_customer_id == T2)
        ).one()
        assert fabrikam.payment_terms_days == 30 and fabrikam.credit_limit is None
    again = import_file(engine, "customers", tmp_path / "customers.csv")
    assert (again.rows_inserted, again.rows_duplicate) == (0, 2)
    assert count(engine, Customer) == 2


def test_bad_customer_rows_are_named(engine, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        [
            ["c1", "A", "", "", "", "EUR", "30", "", "", "2025-01-01"],
            ["c2", "B", "", "", "", "XYZ", "30", "", "", "2025-01-01"],
            ["c1", "A again", "", "", "", "EUR", "30", "", "", "2025-01-01"],
            ["c3", "C", "", "", "", "EUR", "30", "", "", "1/2/2025"],
        ],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "customers", path)
    got = [(e.line, e.column) for e in caught.value.errors]
    assert got == [(3, "currency"), (4, "provider_customer_id"), (5, "created_on")]
    assert count(engine, Customer) == 0


INVOICE_HEADER = [
    "invoice_number",
    "customer",
    "issued_on",
    "due_on",
    "period_start",
    "period_end",
    "currency",
    "line_no",
    "description",
    "subscription",
    "quantity",
    "amount",
]


def invoice_lines() -> list[list[str]]:
    return [
        [
            "INV-1",
            T1,
            "2026-01-01",
            "2026-01-15",
            "2025-12-01",
            "2025-12-31",
            "EUR",
            "1",
            "Microsoft 365 E3",
            "",
            "10",
            "330.00",
        ],
        [
            "INV-1",
            T1,
            "2026-01-01",
            "2026-01-15",
            "2025-12-01",
            "2025-12-31",
            "EUR",
            "2",
            "Azure plan usage",
            "",
            "1",
            "70.10",
        ],
        [
            "INV-2",
            T1,
            "2026-02-01",
            "2026-02-15",
            "2026-01-01",
            "2026-01-31",
            "EUR",
            "1",
            "Microsoft 365 E3",
            "",
            "10",
            "330.00",
        ],
    ]


def test_invoices_and_payments_land_and_payments_allocate(engine, tmp_path):
    load_customers(engine, tmp_path)
    invoices = write(tmp_path / "invoices.csv", INVOICE_HEADER, invoice_lines())
    result = import_file(engine, "invoices", invoices)
    assert (result.rows_read, result.rows_inserted) == (3, 3)
    with session_scope(engine) as session:
        first = session.scalars(select(Invoice).where(Invoice.number == "INV-1")).one()
        assert first.total == Decimal("400.10")
        assert first.due_on == date(2026, 1, 15) and first.period_end == date(2025, 12, 31)
        assert [line.amount for line in first.lines] == [Decimal("330"), Decimal("70.10")]
        assert first.lines[0].quantity == Decimal(10)
    again = import_file(engine, "invoices", invoices)
    assert (again.rows_inserted, again.rows_duplicate) == (0, 3)
    assert count(engine, InvoiceLine) == 3

    payments = write(
        tmp_path / "payments.csv",
        ["reference", "customer", "received_on", "currency", "amount", "method", "invoice_numbers"],
        [
            ["PAY-1", T1, "2026-02-10", "EUR", "330.00", "sepa", "INV-2"],
            ["PAY-2", T1, "2026-02-11", "EUR", "100.00", "", ""],
        ],
    )
    result = import_file(engine, "payments", payments)
    assert result.rows_inserted == 2
    with session_scope(engine) as session:
        pay1 = session.scalars(select(Payment).where(Payment.reference == "PAY-1")).one()
        assert pay1.applies_to == ["INV-2"] and pay1.amount == Decimal("330.00")
        numbers = {i: n for i, n in session.execute(select(Invoice.id, Invoice.number))}
        applied = {}
        for allocation in session.scalars(select(PaymentAllocation)):
            key = (allocation.payment.reference, numbers[allocation.invoice_id])
            applied[key] = allocation.amount
    # PAY-1 goes to the invoice it names; PAY-2 oldest-first to INV-1
    assert applied == {("PAY-1", "INV-2"): Decimal("330"), ("PAY-2", "INV-1"): Decimal("100")}
    again = import_file(engine, "payments", payments)
    assert (again.rows_inserted, again.rows_duplicate) == (0, 2)
    assert count(engine, PaymentAllocation) == 2


def test_invoice_with_a_bad_line_is_refused_whole_and_currency_must_match(engine, tmp_path):
    load_customers(engine, tmp_path)
    lines = invoice_lines()
    lines[1][6] = "GBP"  # differs from the customer's EUR (and from line 1 of INV-1)
    lines.append(
        ["INV-3", "nobody", "2026-02-01", "2026-02-15", "", "", "EUR", "1", "x", "", "1", "1.00"]
    )
    path = write(tmp_path / "invoices.csv", INVOICE_HEADER, lines)
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "invoices", path)
    got = {(e.line, e.column) for e in caught.value.errors}
    assert (3, "currency") in got and (5, "customer") in got
    assert count(engine, Invoice) == 0
    result = import_file(engine, "invoices", path, skip_bad_rows=True)
    assert result.rows_inserted == 1  # INV-2 only; INV-1 is refused whole
    with session_scope(engine) as session:
        assert session.scalars(select(Invoice.number)).all() == ["INV-2"]
    with open(result.reject_path, newline="") as handle:
        rejected = list(csv.reader(handle))
    assert [r[0] for r in rejected[1:]] == ["INV-1", "INV-1", "INV-3"]


def test_amounts_finer_than_the_currency_are_refused_naming_line_and_column(engine, tmp_path):
    """0.5 JPY or 0.0005 KWD cannot be owed or paid: refused as `payments record` refuses them,
    so the aging buckets always add up to the total."""
    customers = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        [
            [T1, "Yen KK", "", "", "", "JPY", "", "", "", ""],
            [T2, "Dinar Co", "", "", "", "KWD", "", "", "", ""],
        ],
    )
    import_file(engine, "customers", customers)
    line = ["2026-01-01", "2026-01-15", "", "", "{cur}", "1", "x", "", "1", "{amount}"]
    rows = [
        ["INV-J", T1, *[v.format(cur="JPY", amount="1000.5") for v in line]],
        ["INV-K", T2, *[v.format(cur="KWD", amount="12.0005") for v in line]],
        ["INV-OK", T2, *[v.format(cur="KWD", amount="12.345") for v in line]],
    ]
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "invoices", write(tmp_path / "inv.csv", INVOICE_HEADER, rows))
    errors = {(e.line, e.column): e.message for e in caught.value.errors}
    assert set(errors) == {(2, "amount"), (3, "amount")}
    assert "finer than JPY allows (0 decimals)" in errors[(2, "amount")]
    assert "finer than KWD allows (3 decimals)" in errors[(3, "amount")]
    assert count(engine, Invoice) == 0
    payments = write(
        tmp_path / "pay.csv",
        ["reference", "customer", "received_on", "currency", "amount"],
        [["P1", T1, "2026-02-10", "JPY", "0.5"], ["P2", T2, "2026-02-10", "KWD", "1.000"]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", payments)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "amount")]
    assert count(engine, Payment) == 0


def test_bad_payment_rows(engine, tmp_path):
    load_customers(engine, tmp_path)
    path = write(
        tmp_path / "payments.csv",
        ["reference", "customer", "received_on", "currency", "amount"],
        [
            ["P1", T1, "2026-02-10", "EUR", "abc"],
            ["P2", T1, "2026-02-10", "GBP", "10"],
            ["P3", T1, "2026-02-10", "EUR", "-5"],
            ["P4", T1, "2026-02-10", "EUR"],
        ],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", path)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "amount"),
        (3, "currency"),
        (4, "amount"),
        (5, "amount"),
    ]
    assert "missing column" in caught.value.errors[-1].message
    assert count(engine, Payment) == 0


def provider_row(**values) -> list[str]:
    row = {name: "" for name in INVOICE_RECONCILIATION}
    row.update(
        PartnerId="0e195b37-4574-4539-bc42-0e539b9684c0",
        CustomerId=T1,
        InvoiceNumber="G002297372",
        OrderId="0ET2qaZvJGfF9wgSKnWzR5JLmhp10lOc1",
        OrderDate="10/3/2025",
        ProductId="CFQ7TTC0LF8Q",
        SkuId="0001",
        SkuName="Microsoft 365 E3",
        ProductName="Microsoft 365 E3",
        ChargeType="new",
        UnitPrice="32.4",
        Quantity="10",
        BillableQuantity="10",
        Subtotal="324.00",
        TaxTotal="61.56",
        Total="385.56",
        Currency="EUR",
        SubscriptionId="3d4e5f60-0000-4000-8000-000000000003",
        ChargeStartDate="10/3/2025",
        ChargeEndDate="11/2/2025",
        AlternateId="1a2b3c4d5e6f",
    )
    row.update(values)
    return [row[name] for name in INVOICE_RECONCILIATION]


def test_provider_invoice_lines_land_once(engine, tmp_path):
    load_customers(engine, tmp_path)
    path = write(
        tmp_path / "invoice-recon.csv",
        list(INVOICE_RECONCILIATION),
        [
            provider_row(),
            provider_row(
                ChargeType="cancelInstance",
                BillableQuantity="-2",
                Quantity="-2",
                Subtotal="-64.80",
                TaxTotal="-12.31",
                Total="-77.11",
                AlternateId="9f8e7d6c5b4a",
            ),
        ],
    )
    result = import_file(engine, "pc-invoice", path)
    assert result.rows_inserted == 2
    with session_scope(engine) as session:
        lines = session.scalars(
            select(ProviderInvoiceLine).order_by(ProviderInvoiceLine.total)
        ).all()
        assert [line.total for line in lines] == [Decimal("-77.11"), Decimal("385.56")]
        assert lines[1].charge_start == date(2025, 10, 3)
        assert lines[1].quantity == 10 and lines[0].quantity == -2
        assert lines[1].unit_price == Decimal("32.4") and lines[1].tax == Decimal("61.56")
    again = import_file(engine, "pc-invoice", path)
    assert (again.rows_inserted, again.rows_duplicate) == (0, 2)
    assert count(engine, ProviderInvoiceLine) == 2


def test_provider_invoice_negative_quantity_on_a_new_charge_is_bad(engine, tmp_path):
    load_customers(engine, tmp_path)
    path = write(
        tmp_path / "invoice-recon.csv",
        list(INVOICE_RECONCILIATION),
        [provider_row(BillableQuantity="-1"), provider_row(AlternateId="x", Currency="EURO")],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-invoice", path)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "BillableQuantity"),
        (3, "Currency"),
    ]


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(engine, tmp_path):
    load_customers(engine, tmp_path)
    path = tmp_path / "payments.csv"
    path.write_bytes(
        b"reference,customer,received_on,currency,amount,method\n"
        + f"P1,{T1},2026-02-10,EUR,10,sepa\n".encode()
        + f"P2,{T1},2026-02-10,EUR,10,ch\xe8que\n".encode("latin-1")
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (3, "row") and "not UTF-8" in error.message
    assert count(engine, Payment) == 0


def disputed_lines(flags: list[str]) -> list[list[str]]:
    return [line + [flag] for line, flag in zip(invoice_lines(), flags, strict=True)]


def test_a_disputed_column_records_the_dispute_as_invoices_dispute_does(engine, tmp_path):
    """A disputed invoice comes in as an open dispute: shown as disputed by `customers show`,
    left out of what is overdue (so collections leave it alone), resolvable as any dispute."""
    load_customers(engine, tmp_path)
    path = write(
        tmp_path / "invoices.csv", [*INVOICE_HEADER, "Disputed"], disputed_lines(["yes", "YES", ""])
    )
    result = import_file(engine, "invoices", path, actor="ap@reseller")
    assert result.rows_inserted == 3 and result.notes == []
    with session_scope(engine) as session:
        flags = {n: d for n, d in session.execute(select(Invoice.number, Invoice.disputed))}
        assert flags == {"INV-1": True, "INV-2": False}
        [dispute] = session.scalars(select(InvoiceDispute)).all()
        assert (dispute.opened_by, dispute.outcome) == ("ap@reseller", None)
        assert dispute.reason == f"marked disputed in the imported file {path}"
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "invoice.disputed")
        ).all()
        assert event.data["invoice"] == "INV-1" and event.data["dispute_id"] == dispute.id
        customer_id = session.scalar(select(Customer.id).where(Customer.provider_customer_id == T1))
    with engine.connect() as connection:
        [facts] = customer_facts(connection, date(2026, 3, 1), [customer_id])
    assert facts.overdue_amount.amount == Decimal("330.00")  # INV-2 only
    assert facts.disputed_amount.amount == Decimal("400.10")
    assert facts.days_past_due == (date(2026, 3, 1) - date(2026, 2, 15)).days

    url = engine.url.render_as_string(hide_password=False)
    shown = CliRunner().invoke(
        app, ["--database-url", url, "customers", "show", T1, "--as-of", "2026-03-01", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    listed = {i["number"]: i["disputed"] for i in json.loads(shown.output)["open_invoices"]}
    assert listed == {"INV-1": True, "INV-2": False}

    again = import_file(engine, "invoices", path)
    assert (again.rows_inserted, again.notes) == (0, [])
    assert count(engine, InvoiceDispute) == 1
    # a later file saying otherwise about a known invoice changes nothing, and says so
    other = write(
        tmp_path / "again.csv", [*INVOICE_HEADER, "disputed"], disputed_lines(["no", "no", "1"])
    )
    later = import_file(engine, "invoices", other)
    assert later.rows_duplicate == 3 and len(later.notes) == 2
    assert later.notes[0].startswith("invoice INV-1 is already in the book and was skipped")
    assert "marks it not disputed, the book has an open dispute" in later.notes[0]

    with session_scope(engine) as session:
        change = resolve_dispute(
            session,
            "INV-1",
            outcome=DisputeOutcome.REJECTED,
            note=None,
            actor="cc",
            now=datetime(2026, 3, 2, tzinfo=UTC),
            today=date(2026, 3, 2),
        )
        assert change.dispute_id == dispute.id  # the imported dispute, not an unrecorded one


def test_bad_disputed_values_are_named_by_line_and_column(engine, tmp_path):
    load_customers(engine, tmp_path)
    lines = disputed_lines(["yes", "no", "maybe"])
    lines.append(
        ["CR-1", T1, "2026-02-01", "2026-02-15", "", "", "EUR", "1", "credit", "", "1", "-50", "y"]
    )
    lines.append(
        ["CR-2", T1, "2026-02-01", "2026-02-15", "", "", "EUR", "1", "credit", "", "1", "-5", "1"]
    )
    path = write(tmp_path / "invoices.csv", [*INVOICE_HEADER, "disputed"], lines)
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "invoices", path)
    errors = {(e.line, e.column): e.message for e in caught.value.errors if e.column == "disputed"}
    assert set(errors) == {(3, "disputed"), (4, "disputed"), (5, "disputed"), (6, "disputed")}
    assert "differs from line 2 of invoice INV-1 (disputed there)" in errors[(3, "disputed")]
    assert "not true or false: 'maybe'" in errors[(4, "disputed")]
    assert "not true or false: 'y'" in errors[(5, "disputed")]
    assert "nothing is owed, so nothing to dispute" in errors[(6, "disputed")]
    assert count(engine, Invoice) == 0 and count(engine, InvoiceDispute) == 0


IGNORED_CASES = {
    "customers": (["Provider-Customer-ID", "Name", "currency"], ["c-new", "Northwind", "GBP"]),
    "subscriptions": (
        ["subscription_id", "customer", "offer"],
        ["3d4e5f60-0000-4000-8000-000000000009", T1, "CFQ7TTC0LF8Q:0001"],
    ),
    "invoices": (
        ["number", "customer", "issued_on", "due_on", "currency", "description", "amount"],
        ["INV-9", T1, "2026-01-01", "2026-01-15", "EUR", "E3", "10.00"],
    ),
    "payments": (
        ["payment_reference", "Customer_ID", "received_on", "currency", "amount"],
        ["P-9", T1, "2026-02-10", "EUR", "10.00"],
    ),
}


@pytest.mark.parametrize("kind", sorted(IGNORED_CASES))
def test_every_reseller_import_names_the_columns_it_ignored(engine, tmp_path, kind):
    """A misspelt header (`amout`) is not read: the result names it instead of dropping it
    silently; columns read under an alias are not named."""
    load_customers(engine, tmp_path)
    header, row = IGNORED_CASES[kind]
    path = write(
        tmp_path / f"{kind}.csv", [*header, "PO number", "notes", ""], [[*row, "", "", ""]]
    )
    result = import_file(engine, kind, path)
    assert result.rows_inserted == 1
    assert result.ignored_columns == ["PO number", "notes", f"column {len(header) + 3} (no name)"]
    url = engine.url.render_as_string(hide_password=False)
    again = CliRunner().invoke(app, ["--database-url", url, "import", kind, str(path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["ignored_columns"] == result.ignored_columns
    shown = CliRunner().invoke(app, ["--database-url", url, "import", kind, str(path)])
    assert shown.exit_code == 0, shown.output
    assert (
        f"ignored column(s), not part of the {kind} format: PO number, notes, "
        f"column {len(header) + 3} (no name)" in shown.output
    )


def test_a_file_with_only_known_columns_names_none(engine, tmp_path):
    load_customers(engine, tmp_path)
    path = write(tmp_path / "i.csv", INVOICE_HEADER, invoice_lines())
    result = import_file(engine, "invoices", path)
    assert result.ignored_columns == []


BAD_DAYS = ["20261001", "2026-W40-1", "0001-01-01", "2026-10-1", "2026-274", "1999-12-31",
            "2100-01-01", "2026-02-30", "2026-10-01T00:00", "٢٠٢٦-١٠-٠١"]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_DAYS)
def test_reseller_dates_are_exactly_yyyy_mm_dd_within_2000_to_2099(engine, tmp_path, bad):
    """docs/imports.md: dates are YYYY-MM-DD. Python's date.fromisoformat also takes basic,
    week and ordinal forms and year 1; each is a bad row naming its line and column, in every
    reseller file."""
    customers = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        [
            [T1, "Contoso", "", "", "", "EUR", "", "", "", "2000-01-01"],
            [T2, "Fabrikam", "", "", "", "EUR", "", "", "", bad],
        ],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "customers", customers)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "created_on")]
    assert bad in caught.value.errors[0].message
    assert count(engine, Customer) == 0
    load_customers(engine, tmp_path)
    line = ["2026-01-01", "2026-01-15", "", "", "EUR", "1", "x", "", "1", "10"]
    invoices = write(
        tmp_path / "inv.csv",
        INVOICE_HEADER,
        [["INV-1", T1, *line], ["INV-2", T1, bad, "2099-12-31", *line[2:]]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "invoices", invoices)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "issued_on")]
    payments = write(
        tmp_path / "pay.csv",
        ["reference", "customer", "received_on", "currency", "amount"],
        [["P1", T1, "2026-02-10", "EUR", "1"], ["P2", T1, bad, "EUR", "1"]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", payments)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "received_on")]
    subscriptions = write(
        tmp_path / "subs.csv",
        ["subscription", "customer", "offer_id", "created_on"],
        [["S1", T1, "O1", "2026-01-01"], ["S2", T1, "O1", bad]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "subscriptions", subscriptions)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "created_on")]
    assert (count(engine, Invoice), count(engine, Payment)) == (0, 0)


def test_the_first_and_last_day_of_the_range_are_accepted(engine, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        [
            [T1, "Contoso", "", "", "", "EUR", "", "", "", "2000-01-01"],
            [T2, "Fabrikam", "", "", "", "EUR", "", "", "", "2099-12-31"],
        ],
    )
    assert import_file(engine, "customers", path).rows_inserted == 2
    with session_scope(engine) as session:
        days = sorted(session.scalars(select(Customer.created_on)))
    assert days == [date(2000, 1, 1), date(2099, 12, 31)]


STANDARD_POLICY = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"


@pytest.mark.parametrize(
    ("received_on", "amount", "column", "message"),
    [
        ("2026-04-11", "10", "received_on", "received on 2026-04-11 is later than today"),
        ("2026-04-10", "10.1234567891", "amount", "amount 10.1234567891 EUR is finer than EUR"),
        ("2026-04-10", "0", "amount", "a payment must be positive, not 0"),
    ],
)  # fmt: skip
def test_an_imported_payment_meets_the_rules_payments_record_applies(
    database_url, engine, tmp_path, received_on, amount, column, message
):
    """One set of rules (book.payments.payment_problems) for a payment typed in and one
    imported, on the command's clock; the import names line and column."""
    from riskdesk.app.clock import FixedClock
    from riskdesk.cli._common import Overrides

    clock = Overrides(clock=FixedClock.on("2026-04-10"))

    def invoke(*args: str):
        return CliRunner().invoke(
            app, ["--database-url", database_url, *args], obj=clock, env={"COLUMNS": "300"}
        )

    load_customers(engine, tmp_path)
    path = write(
        tmp_path / "pay.csv",
        ["reference", "customer", "received_on", "currency", "amount"],
        [["P1", T1, "2026-04-10", "EUR", "5"], ["P2", T1, received_on, "EUR", amount]],
    )
    imported = invoke("import", "payments", str(path))
    assert imported.exit_code == 2, imported.output
    assert f"{path}:3: {column}: {message}" in " ".join(imported.output.split())
    recorded = invoke(
        "payments", "record", T1, amount, "EUR", "--reference", "BANK-1",
        "--received-on", received_on, "--no-execute", "--policy", str(STANDARD_POLICY),
    )  # fmt: skip
    assert recorded.exit_code == 2, recorded.output
    assert message in " ".join(recorded.output.split())
    assert count(engine, Payment) == 0
    # On the clock's day itself the payment is fine, and the import takes the clock's today.
    write(
        path,
        ["reference", "customer", "received_on", "currency", "amount"],
        [["P1", T1, "2026-04-10", "EUR", "5"]],
    )
    assert invoke("import", "payments", str(path)).exit_code == 0
    assert count(engine, Payment) == 1


def test_import_file_takes_today_from_its_caller(engine, tmp_path):
    """A customer without created_on is created on the caller's today (the use case passes
    its clock's); a payment may not be received after it."""
    path = write(
        tmp_path / "c.csv", CUSTOMER_HEADER, [[T1, "Contoso", "", "", "", "EUR", "", "", "", ""]]
    )
    import_file(engine, "customers", path, today=date(2026, 4, 10))
    with session_scope(engine) as session:
        assert session.scalars(select(Customer.created_on)).one() == date(2026, 4, 10)
    payments = write(
        tmp_path / "p.csv",
        ["reference", "customer", "received_on", "currency", "amount"],
        [["P1", T1, "2026-04-11", "EUR", "5"]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", payments, today=date(2026, 4, 10))
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "received_on")]
    assert import_file(engine, "payments", payments, today=date(2026, 4, 11)).rows_inserted == 1


@pytest.mark.parametrize("huge", ["1e999999999", "1E+999999", "-1e999999999"])
def test_absurd_numbers_are_bad_rows_naming_line_and_column_not_crashes(engine, tmp_path, huge):
    """`1e999999999` is a valid Decimal whose every arithmetic overflows (decimal.Overflow,
    a traceback); and written out in plain digits it is a gigabyte. Found by
    tests/test_fuzz_imports.py."""
    load_customers(engine, tmp_path)
    payments = write(
        tmp_path / "pay.csv",
        ["reference", "customer", "received_on", "currency", "amount"],
        [["P1", T1, "2026-02-10", "EUR", "1"], ["P2", T1, "2026-02-10", "EUR", huge]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", payments)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "amount")]
    line = ["2026-01-01", "2026-01-15", "", "", "EUR", "1", "x", "", "1", "10"]
    invoices = write(
        tmp_path / "inv.csv",
        INVOICE_HEADER,
        [["INV-1", T1, *line[:8], huge, "10"], ["INV-2", T1, *line[:9], huge]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "invoices", invoices)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "quantity"), (3, "amount")]
    recon = write(
        tmp_path / "recon.csv",
        list(INVOICE_RECONCILIATION),
        [provider_row(UnitPrice=huge), provider_row(Total=huge, AlternateId="2")],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-invoice", recon)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "UnitPrice"), (3, "Total")]
    assert (count(engine, Payment), count(engine, Invoice), count(engine, ProviderInvoiceLine)) == (
        0,
        0,
        0,
    )


@pytest.mark.parametrize("kind", ["customers", "pc-invoice"])
def test_a_header_line_csv_cannot_read_is_one_error_naming_line_1(engine, tmp_path, kind):
    """A bare CR inside the header's first line (csv.Error: new-line character seen in unquoted
    field) was a traceback. Found by tests/test_fuzz_imports.py."""
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\r\x00")
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, kind, path)
    assert caught.value.errors[0].line == 1


def test_a_nul_character_in_a_value_is_a_bad_row_naming_line_and_column(engine, tmp_path):
    """PostgreSQL cannot store NUL in text (a psycopg DataError traceback); SQLite can, and the
    same file must mean the same on both: a bad row."""
    path = write(
        tmp_path / "customers.csv",
        CUSTOMER_HEADER,
        [
            [T1, "Contoso", "", "", "", "EUR", "", "", "", ""],
            [T2, "Fab\x00rikam", "", "", "", "EUR", "", "", "", ""],
        ],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "customers", path)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "name")]
    assert "NUL" in caught.value.errors[0].message
    assert count(engine, Customer) == 0
    load_customers(engine, tmp_path)
    # Nor is a NUL ever sent in a lookup (PostgreSQL refuses to compare one too).
    line = ["2026-01-01", "2026-01-15", "", "", "EUR", "1", "x", "", "1", "10"]
    invoices = write(tmp_path / "inv.csv", INVOICE_HEADER, [["\x00", T1, *line]])
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "invoices", invoices)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "invoice_number")]
    payments = write(
        tmp_path / "pay.csv",
        ["reference", "customer", "received_on", "currency", "amount", "invoice_numbers"],
        [["P\x001", T1, "2026-02-10", "EUR", "1", "INV\x00"]],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", payments)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "reference"),
        (2, "invoice_numbers"),
    ]
    recon = write(
        tmp_path / "recon.csv",
        list(INVOICE_RECONCILIATION),
        [provider_row(), provider_row(SkuName="E\x003", AlternateId="2")],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-invoice", recon)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "SkuName")]
    assert count(engine, ProviderInvoiceLine) == 0


def test_a_provider_invoice_amount_too_large_as_stored_says_too_large(engine, tmp_path):
    """-999999999999.9999999 rounds to -10^12 at the micro: refused, in the words every
    import uses for an amount beyond the limit (`money.beyond_limit`)."""
    load_customers(engine, tmp_path)
    path = write(
        tmp_path / "invoice-recon.csv",
        list(INVOICE_RECONCILIATION),
        [provider_row(Total="-999999999999.9999999"), provider_row(AlternateId="x", Total="x")],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-invoice", path)
    first, second = caught.value.errors
    assert (first.line, first.column, second.line, second.column) == (2, "Total", 3, "Total")
    assert "amount -1000000000000.000000 is too large: riskdesk stores amounts below" in (
        first.message
    )
    assert second.message == "not a finite amount: 'x'"
    assert count(engine, ProviderInvoiceLine) == 0
