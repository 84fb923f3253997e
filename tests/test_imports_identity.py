"""A provider row is the same row however the export or the API spells it (issue 12, a).

Partner Center's reconciliation file and its API give the same line with enumerated values in
another letter case (`New` / `new`), numbers written differently (`10.50` / `10.5`), dates
with or without a time, and stray blanks. Importing the second form after the first must add
nothing and leave the totals as they were.
"""

from __future__ import annotations

from sqlalchemy import func, select

from riskdesk.db.engine import session_scope
from riskdesk.db.models import ProviderInvoiceLine, UsageRecord
from riskdesk.imports import import_file
from riskdesk.imports.pc_columns import INVOICE_RECONCILIATION
from riskdesk.imports.rowhash import row_hash_py
from test_imports_reseller import load_customers, provider_row, write
from test_imports_usage import TENANTS, add_customers, usage_row, write_rows


def totals(engine, model, amount) -> tuple[int, int]:
    with session_scope(engine) as session:
        return tuple(
            session.execute(select(func.count(), func.sum(amount)).select_from(model)).one()
        )


def test_usage_in_the_api_spelling_after_the_export_adds_nothing(engine, tmp_path):
    add_customers(engine)
    export = [
        usage_row(ChargeType="New", UnitType="1 Hour", UsageDate="1/5/2026"),
        usage_row(ChargeType="New", UnitType="1 Hour", UsageDate="1/6/2026", Quantity="10.50"),
        usage_row(
            CustomerId=TENANTS[1], ChargeType="Renew", UnitType="10 GB", UsageDate="1/5/2026"
        ),
    ]
    first = import_file(engine, "pc-usage", write_rows(tmp_path / "export.csv", export))
    assert first.rows_inserted == 3
    before = totals(engine, UsageRecord, UsageRecord.amount)

    api = [
        usage_row(
            ChargeType="new",
            UnitType="1 hour",
            UsageDate="2026-01-05T00:00:00Z",
            ResourceLocation="WestEurope ",
            BillingPreTaxTotal="2.304",
        ),
        usage_row(
            ChargeType=" NEW",
            UnitType="1  hour",
            UsageDate="1/6/2026 12:00:00 AM",
            Quantity="10.5",
            CustomerId=TENANTS[0].upper(),
        ),
        usage_row(
            CustomerId=TENANTS[1], ChargeType="renew", UnitType="10 gb", UsageDate="2026-01-05"
        ),
    ]
    again = import_file(engine, "pc-usage", write_rows(tmp_path / "api.csv", api))
    assert (again.rows_inserted, again.rows_duplicate) == (0, 3)
    assert totals(engine, UsageRecord, UsageRecord.amount) == before


def test_two_spellings_of_one_usage_row_in_one_file_are_a_duplicate(engine, tmp_path):
    add_customers(engine)
    rows = [usage_row(ChargeType="New"), usage_row(ChargeType="new ")]
    result = import_file(
        engine, "pc-usage", write_rows(tmp_path / "u.csv", rows), skip_bad_rows=True
    )
    assert result.rows_inserted == 1 and result.rows_rejected == 1
    assert "same identity as line 2" in result.errors[0].message


def test_invoice_lines_in_the_api_spelling_after_the_export_add_nothing(engine, tmp_path):
    load_customers(engine, tmp_path)
    export = [
        provider_row(
            ChargeType="New", UnitPrice="32.40", Subtotal="324.00", ProductId="CFQ7TTC0LF8Q"
        ),
        provider_row(
            ChargeType="CancelInstance",
            BillableQuantity="-2",
            Quantity="-2",
            Subtotal="-64.80",
            TaxTotal="-12.31",
            Total="-77.11",
            AlternateId="9F8E7D6C5B4A",
        ),
    ]
    path = write(tmp_path / "recon.csv", list(INVOICE_RECONCILIATION), export)
    assert import_file(engine, "pc-invoice", path).rows_inserted == 2
    before = totals(engine, ProviderInvoiceLine, ProviderInvoiceLine.total)

    api = [
        provider_row(
            ChargeType="new",
            UnitPrice="32.4",
            Subtotal="324",
            Quantity="10.0",
            BillableQuantity="10.00",
            TaxTotal="61.560",
            ProductId="cfq7ttc0lf8q ",
            ChargeStartDate="2025-10-03T00:00:00",
            ChargeEndDate="11/2/2025 12:00:00 AM",
            CustomerId=f" {provider_row()[INVOICE_RECONCILIATION.index('CustomerId')].upper()}",
        ),
        provider_row(
            ChargeType="cancelinstance",
            BillableQuantity="-2.0",
            Quantity="-2",
            Subtotal="-64.8",
            TaxTotal="-12.31",
            Total="-77.110",
            AlternateId="9f8e7d6c5b4a",
        ),
    ]
    path = write(tmp_path / "api.csv", list(INVOICE_RECONCILIATION), api)
    again = import_file(engine, "pc-invoice", path)
    assert (again.rows_inserted, again.rows_duplicate) == (0, 2)
    assert totals(engine, ProviderInvoiceLine, ProviderInvoiceLine.total) == before


def test_the_canonical_form_of_an_identity_value():
    from riskdesk.imports.rowhash import canonical_text

    # part of the row identity's definition (docs/imports.md): changing it changes stored hashes
    assert canonical_text("  New ") == "new"
    assert canonical_text("1\t Hour") == "1 hour"
    assert canonical_text("") == ""
    assert row_hash_py([canonical_text(v) for v in ("New", "1 Hour")]) == row_hash_py(
        ["new", "1 hour"]
    )
