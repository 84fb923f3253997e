"""The reseller's files against the rules every entry point shares: dates exactly YYYY-MM-DD
within range, an imported payment under the rules of `payments record`, absurd numbers,
unreadable headers and NUL characters as bad rows (issue 13). Helpers and the customers file
come from test_imports_reseller."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.db.engine import session_scope
from riskdesk.db.models import Customer, Invoice, Payment, ProviderInvoiceLine
from riskdesk.imports import ImportFileError, import_file
from riskdesk.imports.pc_columns import INVOICE_RECONCILIATION
from test_imports_reseller import (
    CUSTOMER_HEADER,
    INVOICE_HEADER,
    T1,
    T2,
    count,
    load_customers,
    provider_row,
    write,
)

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
