"""pc-usage: Partner Center daily rated usage reconciliation files, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from riskdesk.db.bulk import bulk_insert
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Customer, ImportRun, UsageRecord
from riskdesk.imports import ImportFileError, import_file
from riskdesk.imports.pc_columns import DAILY_RATED_USAGE
from riskdesk.imports.samples import write_pc_usage_csv

TENANTS = ["196e2273-9651-43a3-ba7e-7cbcd918fc40", "0c5b1e41-2f0b-4c9e-9d51-1a8f3e0b7c22"]


def add_customers(engine, tenants=TENANTS, currency="EUR"):
    with engine.begin() as connection:
        bulk_insert(
            connection,
            Customer.__table__,
            [
                "provider_customer_id",
                "name",
                "currency",
                "payment_terms_days",
                "tags",
                "created_on",
            ],
            [
                (t, f"Customer {i}", currency, 30, "[]", date(2025, 1, 1))
                for i, t in enumerate(tenants)
            ],
        )


def count(engine, model=UsageRecord) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def usage_row(**values) -> dict[str, str]:
    row = {name: "" for name in DAILY_RATED_USAGE}
    row.update(
        CustomerId=TENANTS[0],
        SubscriptionId="a1b2c3d4-0000-4000-8000-000000000001",
        EntitlementId="e5f6a7b8-0000-4000-8000-000000000002",
        UsageDate="1/5/2026",
        MeterId="ad41dce5-c94e-5100-9575-8b2591e629c8",
        MeterCategory="Virtual Machines",
        MeterName="D2s v3",
        ResourceLocation="westeurope",
        MeterRegion="EU West",
        Quantity="24",
        Unit="1 Hour",
        BillingPreTaxTotal="2.3040000049999",
        BillingCurrency="EUR",
        ResourceURI="/subscriptions/e5f6/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        ChargeType="new",
        Tags='{"env":"prod","owner":"Ops, Team \\"Blue\\"","cost":"1,2"}',
        AdditionalInfo='{"ImageType":"Canonical","VCPUs":2}',
    )
    row.update(values)
    return row


def write_rows(path: Path, rows: list[dict[str, str]], header=DAILY_RATED_USAGE) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row[h] for h in DAILY_RATED_USAGE])
    path.write_bytes(buffer.getvalue().encode())
    return path


def test_a_good_file_lands_with_exact_amounts_and_dates(engine, tmp_path):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [
            usage_row(),
            usage_row(UsageDate="12/31/2025", BillingPreTaxTotal="0.0000125", Quantity="0.5"),
            usage_row(
                UsageDate="1/6/2026",
                BillingPreTaxTotal="-1.0000035",
                CustomerId=TENANTS[1].upper(),
                InvoiceNumber="G002297372",
            ),
        ],
    )
    result = import_file(engine, "pc-usage", path)
    assert (result.rows_read, result.rows_inserted, result.rows_rejected) == (3, 3, 0)
    with session_scope(engine) as session:
        records = session.scalars(select(UsageRecord).order_by(UsageRecord.usage_date)).all()
        by_date = {r.usage_date: r for r in records}
        assert set(by_date) == {date(2025, 12, 31), date(2026, 1, 5), date(2026, 1, 6)}
        assert by_date[date(2026, 1, 5)].amount == Decimal("2.304000")  # ...0049999 rounds down
        assert by_date[date(2025, 12, 31)].amount == Decimal("0.000012")  # half to even
        assert by_date[date(2026, 1, 6)].amount == Decimal("-1.000004")  # half to even
        assert by_date[date(2025, 12, 31)].quantity == 0.5
        assert by_date[date(2026, 1, 5)].invoice_number is None  # unbilled: blank
        assert by_date[date(2026, 1, 6)].invoice_number == "G002297372"
        assert by_date[date(2026, 1, 5)].entitlement_id == "e5f6a7b8-0000-4000-8000-000000000002"
        assert by_date[date(2026, 1, 5)].region == "westeurope"
        assert by_date[date(2026, 1, 5)].currency == "EUR"
        second = session.scalars(
            select(Customer.id).where(Customer.provider_customer_id == TENANTS[1])
        ).one()
        assert by_date[date(2026, 1, 6)].customer_id == second
        assert session.scalar(select(func.count()).select_from(ImportRun)) == 1
        event = session.scalars(select(AuditEvent)).one()
        assert event.action == "import.completed"
        assert event.data["rows_inserted"] == 3


def test_tags_json_with_commas_and_doubled_quotes_parses(engine, tmp_path):
    add_customers(engine)
    path = write_rows(tmp_path / "usage.csv", [usage_row()])
    text = path.read_bytes().decode()
    assert '""env"":""prod""' in text and "Ops, Team" in text  # the file really has them
    result = import_file(engine, "pc-usage", path)
    assert result.rows_inserted == 1
    with session_scope(engine) as session:
        record = session.scalars(select(UsageRecord)).one()
        # EntitlementId comes after Tags and AdditionalInfo: the fields did not shift
        assert record.entitlement_id == "e5f6a7b8-0000-4000-8000-000000000002"
        assert record.amount == Decimal("2.304000")


BAD_ROWS = [
    ("UsageDate", "13/45/2026", "not a date"),
    ("Quantity", "-3", "negative quantity"),
    ("BillingCurrency", "XXX", "unknown currency"),
    ("CustomerId", "ffffffff-0000-0000-0000-000000000000", "unknown customer"),
    ("BillingPreTaxTotal", "NaN", "not a finite amount"),
    ("MeterId", "", "required value is empty"),
]


def malformed_file(tmp_path: Path) -> tuple[Path, dict[int, tuple[str, str]]]:
    """Good rows with one bad row of each kind; returns {line: (column, message part)}."""
    rows = [usage_row(UsageDate=f"1/{d}/2026") for d in range(1, 4)]
    expected: dict[int, tuple[str, str]] = {}
    for k, (column, bad, message) in enumerate(BAD_ROWS):
        rows.append(usage_row(**{"UsageDate": f"2/{k + 1}/2026", column: bad}))
        expected[len(rows) + 1] = (column, message)
    path = write_rows(tmp_path / "usage.csv", rows)
    # a row missing a column: drop the last field of a good row, appended at the end
    lines = path.read_bytes().decode().split("\r\n")
    missing = lines[1].rsplit(",", 1)[0].replace("1/1/2026", "3/1/2026")
    lines.insert(len(lines) - 1, missing)
    path.write_bytes("\r\n".join(lines).encode())
    expected[len(lines) - 1] = ("BenefitType", "missing column")
    return path, expected


def test_malformed_rows_refuse_the_file_naming_line_and_column(engine, tmp_path):
    add_customers(engine)
    path, expected = malformed_file(tmp_path)
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    errors = caught.value.errors
    assert {e.line: e.column for e in errors} == {line: col for line, (col, _) in expected.items()}
    for error in errors:
        assert expected[error.line][1] in error.message
        assert str(error) == f"{path}:{error.line}: {error.column}: {error.message}"
    assert str(errors[0]) in str(caught.value)
    assert count(engine) == 0
    assert count(engine, ImportRun) == 0
    assert count(engine, AuditEvent) == 0


def test_skip_bad_rows_lands_good_rows_and_rejects_exactly_the_bad_ones(engine, tmp_path):
    add_customers(engine)
    path, expected = malformed_file(tmp_path)
    reject = tmp_path / "rejects.csv"
    result = import_file(engine, "pc-usage", path, skip_bad_rows=True, reject_path=reject)
    assert result.rows_inserted == 3
    assert result.rows_rejected == len(expected)
    assert result.reject_path == reject
    assert count(engine) == 3
    source = path.read_bytes().decode().split("\r\n")
    written = reject.read_bytes().decode().split("\r\n")
    assert written[0] == source[0] + ",error"
    bad_lines = sorted(expected)
    assert len([w for w in written if w]) == 1 + len(bad_lines)
    for out, line in zip(written[1:], bad_lines, strict=False):
        assert out.startswith(source[line - 1] + ',"')  # the row exactly as it was, plus error
    parsed = list(csv.reader(io.StringIO(reject.read_bytes().decode())))[1:]
    # the error is the last field (for the short row too: it is appended to the row as it was)
    assert all(expected[line][1] in row[-1] for row, line in zip(parsed, bad_lines, strict=True))


def test_default_reject_path(engine, tmp_path):
    add_customers(engine)
    path, _ = malformed_file(tmp_path)
    result = import_file(engine, "pc-usage", path, skip_bad_rows=True)
    assert result.reject_path == tmp_path / "usage.csv.rejects.csv"
    assert result.reject_path.exists()


def test_importing_the_same_file_twice_changes_nothing(engine, tmp_path):
    add_customers(engine)
    path = write_pc_usage_csv(tmp_path / "usage.csv", TENANTS, 2_500, seed=3)
    first = import_file(
        engine, "pc-usage", path, block_size=64 << 10, batch_rows=100
    )  # many batches
    assert first.rows_inserted == 2_500
    with session_scope(engine) as session:
        total = session.scalar(select(func.sum(UsageRecord.amount)))
    again = import_file(engine, "pc-usage", path)
    assert (again.rows_read, again.rows_inserted, again.rows_duplicate) == (2_500, 0, 2_500)
    assert count(engine) == 2_500
    with session_scope(engine) as session:
        assert session.scalar(select(func.sum(UsageRecord.amount))) == total
    assert count(engine, ImportRun) == 2


def test_duplicate_rows_inside_one_file_are_bad_rows(engine, tmp_path):
    add_customers(engine)
    path = write_rows(tmp_path / "usage.csv", [usage_row(), usage_row(Quantity="25")])
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (3, "row")
    assert "line 2" in error.message


def test_duplicate_rows_in_later_batches_name_the_first_line(engine, tmp_path):
    add_customers(engine)
    rows = [usage_row(UsageDate=f"1/{day}/2026") for day in range(1, 29)]
    rows += [usage_row(UsageDate="1/3/2026", Quantity="7"), usage_row(UsageDate="1/27/2026")]
    path = write_rows(tmp_path / "usage.csv", rows)
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path, block_size=512, batch_rows=2)
    assert [(e.line, e.column) for e in caught.value.errors] == [(30, "row"), (31, "row")]
    assert "line 4" in caught.value.errors[0].message
    assert "line 28" in caught.value.errors[1].message
    assert count(engine) == 0
    result = import_file(engine, "pc-usage", path, block_size=512, batch_rows=2, skip_bad_rows=True)
    assert (result.rows_inserted, result.rows_rejected) == (28, 2)


def test_headers_in_other_spelling_and_case_are_accepted(engine, tmp_path):
    add_customers(engine)
    renamed = {
        "CustomerId": "customerId",
        "MpnId": "MPNID",
        "Tier2MpnId": "ResellerMPNID",
        "BillingPreTaxTotal": "billing_pre_tax_total",
        "UsageDate": "USAGEDATE",
        "ResourceURI": "resourceUri",
    }
    header = [renamed.get(h, h) for h in DAILY_RATED_USAGE]
    path = write_rows(tmp_path / "usage.csv", [usage_row()], header=header)
    result = import_file(engine, "pc-usage", path)
    assert result.rows_inserted == 1
    with session_scope(engine) as session:
        assert session.scalars(select(UsageRecord.amount)).one() == Decimal("2.304")


def test_a_missing_required_header_column_is_refused_by_name(engine, tmp_path):
    add_customers(engine)
    header = [h for h in DAILY_RATED_USAGE if h != "BillingPreTaxTotal"]
    path = tmp_path / "usage.csv"
    path.write_text(",".join(header) + "\n" + ",".join("x" for _ in header) + "\n")
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (1, "BillingPreTaxTotal")
    assert "required column is missing" in error.message
    assert "BillingPreTaxTotal" in str(caught.value)
    assert count(engine) == 0


def test_sample_file_has_the_documented_header_and_imports(engine, tmp_path):
    add_customers(engine)
    path = write_pc_usage_csv(tmp_path / "usage.csv", TENANTS, 300, seed=1)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(DAILY_RATED_USAGE) and len(rows[0]) == 55
    assert any('"env":"prod"' in r[DAILY_RATED_USAGE.index("Tags")] for r in rows[1:])
    seen = []
    result = import_file(engine, "pc-usage", path, progress=lambda d, t: seen.append((d, t)))
    assert result.rows_inserted == 300
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


def test_a_row_that_is_not_utf8_is_one_bad_row(engine, tmp_path):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [usage_row(UsageDate=f"1/{day}/2026", MeterName="Büro VM") for day in range(1, 6)],
    )
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace("Büro".encode(), "B\xfcro".encode("latin-1"))  # line 4
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (4, "row")
    assert "not UTF-8" in error.message
    assert count(engine) == 0

    result = import_file(engine, "pc-usage", path, skip_bad_rows=True)
    assert (result.rows_inserted, result.rows_rejected) == (4, 1)
    rejected = result.reject_path.read_bytes().split(b"\r\n")
    assert rejected[1].startswith(lines[3])
    with session_scope(engine) as session:
        names = set(session.scalars(select(UsageRecord.meter_name)))
    assert names == {"Büro VM"}


@pytest.mark.parametrize("bad", ["1/5/1999", "1/5/2100", "2026-1-5", "1/5/0001", "2100-01-05"])
def test_usage_dates_outside_2000_to_2099_or_not_iso_are_bad_rows(engine, tmp_path, bad):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [usage_row(UsageDate="1/5/2000"), usage_row(UsageDate="2099-12-31"),
         usage_row(UsageDate=bad, MeterId="other")],
    )  # fmt: skip
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    assert [(e.line, e.column) for e in caught.value.errors] == [(4, "UsageDate")]
    assert "not a date" in caught.value.errors[0].message
    assert count(engine) == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        # rounds (half to even, at the micro) to exactly -10^12: at the limit, not below it
        ("-999999999999.9999999", "amount -1000000000000.000000 is too large"),
        ("999999999999.9999995", "amount 1000000000000.000000 is too large"),
        ("9223372036854.77", "amount 9223372036854.77 is too large"),
        ("1e999999999", "amount 1E+999999999 is too large"),
    ],
)
def test_an_amount_too_large_as_stored_is_a_bad_row_in_the_words_of_every_import(
    engine, tmp_path, bad, message
):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [
            usage_row(BillingPreTaxTotal="999999999999.9999994"),  # rounds to the largest
            usage_row(BillingPreTaxTotal=bad, MeterId="other"),
        ],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (3, "BillingPreTaxTotal")
    assert message in error.message
    assert "riskdesk stores amounts below 1,000,000,000,000 in magnitude" in error.message
    assert count(engine) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "11/9/2026 25:00:00",
        "11/9/2026 23:60:00",
        "11/9/2026 23:00:61",
        "11/9/2026 13:00:00 PM",
        "11/9/2026 0:00:00 AM",
        "2026-11-09T24:00:00Z",
        "2026-11-09T10:00:00+25:00",
        "11/9/2026 noon",
    ],
)
def test_a_usage_time_that_does_not_exist_is_a_bad_row(engine, tmp_path, bad):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [
            usage_row(UsageDate="11/9/2026 12:00:00 AM"),
            usage_row(UsageDate="2026-11-08T23:59:59.9999999Z", MeterId="m2"),
            usage_row(UsageDate="11/7/2026 0:00", MeterId="m3"),
            usage_row(UsageDate=bad, MeterId="other"),
        ],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (5, "UsageDate")
    assert f"not a date: {bad!r}" in error.message
    assert count(engine) == 0
