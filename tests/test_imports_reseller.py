"""customers, invoices, payments (the reseller's own files) and pc-invoice, on both databases."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    Customer,
    Invoice,
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
