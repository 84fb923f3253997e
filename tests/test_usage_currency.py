"""Usage billed in another currency than its customer's is converted, never silently dropped
(issue 13 item 6): with the row's own PCToBCExchangeRate, else with the rate table
(`riskdesk rates import`), else kept visible as unconverted. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from riskdesk.app.clock import FixedClock
from riskdesk.book.facts import customer_facts, top_exposures
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, ExchangeRate, UsageRecord
from riskdesk.imports import ImportFileError, import_file
from riskdesk.money import Money
from test_imports_usage import TENANTS, add_customers, usage_row, write_rows

runner = CliRunner()
AS_OF = date(2026, 1, 31)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def invoke(engine, *args: str):
    url = engine.url.render_as_string(hide_password=False)
    return runner.invoke(
        app,
        ["--database-url", url, "--actor", "j.doe", *args],
        env={"COLUMNS": "200"},
        obj=Overrides(clock=FixedClock.on("2026-01-31")),
    )


def facts(engine, tenant=0):
    with engine.connect() as conn:
        every = customer_facts(conn, AS_OF)
    return next(f for f in every if f.provider_customer_id == TENANTS[tenant])


def usd_row(day: str, amount: str, **values) -> dict[str, str]:
    """A USD-billed usage line of the EUR customer TENANTS[0] (one meter per day)."""
    return usage_row(UsageDate=day, BillingPreTaxTotal=amount, BillingCurrency="USD", **values)


def rates_file(path: Path, lines: list[str]) -> Path:
    path.write_text("from,to,rate,day,source\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_a_usd_row_with_its_own_rate_counts_converted_and_rounded_once(engine, tmp_path):
    add_customers(engine)  # EUR customers
    path = write_rows(
        tmp_path / "usage.csv",
        [
            # priced in EUR, billed in USD at 1 EUR = 1.08 USD: 100 USD is 92.5925925... EUR
            usd_row(
                "1/5/2026",
                "100",
                PricingCurrency="EUR",
                PCToBCExchangeRate="1.0800",
                PCToBCExchangeRateDate="1/1/2026",
            ),
            usage_row(UsageDate="1/6/2026", BillingPreTaxTotal="0.005"),  # EUR, half a cent
        ],
    )
    import_file(engine, "pc-usage", path)
    with session_scope(engine) as s:
        row = s.scalars(select(UsageRecord).where(UsageRecord.currency == "USD")).one()
        assert (row.pricing_currency, row.pc_to_bc_rate) == ("EUR", Decimal("1.08"))
        assert row.pc_to_bc_rate_date == date(2026, 1, 1)
    f = facts(engine)
    # 92.5925925... + 0.005 = 92.5975925... -> 92.60 (rounding each first would give 92.59)
    assert f.unbilled_usage == eur("92.60")
    assert f.exposure == eur("92.60")
    assert f.unconverted_usage == ()


def test_without_a_row_rate_the_latest_table_rate_on_or_before_the_day_converts(engine, tmp_path):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [usd_row("1/5/2026", "100"), usd_row("1/12/2026", "10"), usd_row("1/13/2026", "1")],
    )
    import_file(engine, "pc-usage", path)
    rates = rates_file(
        tmp_path / "rates.csv",
        [
            "USD,EUR,0.80,2025-12-31,ECB",
            "USD,EUR,0.9,2026-01-01,ECB",  # the latest on or before 5 January
            "USD,EUR,0.5,2026-01-10,bank",  # for 12 and 13 January, not for the 5th
            "EUR,USD,2,2026-01-01,ECB",  # the other direction is not used
        ],
    )
    result = invoke(engine, "rates", "import", str(rates), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 4
    f = facts(engine)
    assert f.unbilled_usage == eur("95.50")  # 100 * 0.9 + 10 * 0.5 + 1 * 0.5
    assert f.exposure == eur("95.50")
    assert f.unconverted_usage == ()
    # a second import of a changed rate replaces that day's rate, and the facts follow
    again = rates_file(tmp_path / "rates2.csv", ["USD,EUR,0.95,2026-01-01,ECB revised"])
    assert invoke(engine, "rates", "import", str(again)).exit_code == 0
    assert facts(engine).unbilled_usage == eur("100.50")
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ExchangeRate)) == 4
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "rates.imported")).all()
        assert [e.data["replaced"] for e in events] == [0, 1]


def test_with_no_rate_at_all_the_usage_is_kept_and_shown_unconverted(engine, tmp_path):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [
            usd_row("1/5/2026", "100"),
            # a row rate from another pricing currency says nothing about USD -> EUR
            usd_row("1/6/2026", "20.5", PricingCurrency="GBP", PCToBCExchangeRate="1.27"),
            usage_row(UsageDate="1/7/2026", BillingPreTaxTotal="3"),
        ],
    )
    result = import_file(engine, "pc-usage", path)
    assert result.rows_inserted == 3  # nothing refused, nothing lost
    f = facts(engine)
    assert f.unbilled_usage == eur("3") and f.exposure == eur("3")
    assert f.unconverted_usage == (Money("120.50", "USD"),)
    shown = invoke(engine, "customers", "show", TENANTS[0])
    assert shown.exit_code == 0, shown.output
    assert "120.50 USD has no rate into EUR" in " ".join(shown.output.split())
    # a rate dated after the usage does not convert it
    rates = rates_file(tmp_path / "rates.csv", ["USD,EUR,0.9,2026-01-06,ECB"])
    assert invoke(engine, "rates", "import", str(rates)).exit_code == 0
    f = facts(engine)
    assert f.unbilled_usage == eur("21.45")  # 3 + 20.5 * 0.9
    assert f.unconverted_usage == (Money("100", "USD"),)


def test_converted_usage_counts_in_the_ranking_of_exposures(engine, tmp_path):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [
            usd_row("1/5/2026", "1000"),  # the first customer: 900 EUR once converted
            usage_row(CustomerId=TENANTS[1], UsageDate="1/5/2026", BillingPreTaxTotal="50"),
        ],
    )
    import_file(engine, "pc-usage", path)
    rates_path = rates_file(tmp_path / "rates.csv", ["USD,EUR,0.9,2026-01-01,ECB"])
    assert invoke(engine, "rates", "import", str(rates_path)).exit_code == 0
    with engine.connect() as conn:
        top = top_exposures(conn, AS_OF, limit=1)
        eur_top = top_exposures(conn, AS_OF, limit=2, currency="EUR")
    assert [(f.provider_customer_id, f.exposure) for f in top] == [(TENANTS[0], eur("900"))]
    assert [f.provider_customer_id for f in eur_top] == [TENANTS[0], TENANTS[1]]


@pytest.mark.parametrize(
    ("values", "column", "message"),
    [
        (
            {"PCToBCExchangeRate": "1,08", "PricingCurrency": "EUR"},
            "PCToBCExchangeRate",
            "not a positive exchange rate: '1,08'",
        ),
        ({"PCToBCExchangeRate": "1.08"}, "PricingCurrency", "PCToBCExchangeRate converts"),
        ({"PCToBCExchangeRate": "-1", "PricingCurrency": "EUR"}, "PCToBCExchangeRate", "-1"),
        (
            {"PCToBCExchangeRateDate": "31/1/2026"},
            "PCToBCExchangeRateDate",
            "not a date: '31/1/2026'",
        ),
    ],
)
def test_a_bad_row_rate_is_one_error_naming_line_and_column(
    engine, tmp_path, values, column, message
):
    add_customers(engine)
    path = write_rows(
        tmp_path / "usage.csv",
        [usd_row("1/4/2026", "1"), usd_row("1/5/2026", "100", **values)],
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "pc-usage", path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (3, column)
    assert message in error.message
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(UsageRecord)) == 0


@pytest.mark.parametrize(
    ("rate", "day", "message"),
    [
        ("1e999999999", "2026-01-01", "column rate: rate '1e999999999' is out of range"),
        ("1e-999999999", "2026-01-01", "column rate: rate '1e-999999999' is out of range"),
        ("1e12", "2026-01-01", "column rate: rate '1e12' is out of range (expected 1e-12"),
        ("0.0000000000001", "2026-01-01", "column rate: rate '0.0000000000001' is out of"),
        ("1." + "1" * 40, "2026-01-01", "column rate: rate '1.1111"),
        ("-0.9", "2026-01-01", "column rate: not a positive rate: '-0.9'"),
        ("0E-5", "2026-01-01", "column rate: not a positive rate: '0E-5'"),
        ("Infinity", "2026-01-01", "column rate: not a positive rate: 'Infinity'"),
        ("0.9", "20260101", "column day: not a date: '20260101' (expected YYYY-MM-DD)"),
        ("0.9", "2026-W01-1", "column day: not a date: '2026-W01-1' (expected YYYY-MM-DD)"),
        ("0.9", "0001-01-01", "column day: date 0001-01-01 is outside 2000-01-01 .. 2099-12-31"),
        ("0.9", "2026-02-30", "column day: not a date: '2026-02-30' (no such day)"),
    ],
)
def test_a_rate_out_of_range_or_a_day_not_yyyy_mm_dd_is_one_error_and_writes_nothing(
    engine, tmp_path, rate, day, message
):
    """Huge or tiny exponents are refused by their digits (no decimal.Overflow, no error at
    flush); a day is the strict YYYY-MM-DD of 2000..2099 every other import uses."""
    path = rates_file(
        tmp_path / "rates.csv", ["USD,EUR,0.9,2026-01-05,ECB", f"USD,EUR,{rate},{day},ECB"]
    )
    result = invoke(engine, "rates", "import", str(path))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"1 problem, nothing imported: line 3, {message}" in text
    assert "Traceback" not in result.output
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ExchangeRate)) == 0


def test_a_long_exact_rate_is_kept_to_its_last_digit(engine, tmp_path):
    """A rate of 30 significant digits is stored as given, never rounded to 28."""
    rate = "1.23456789012345678901234567891"
    path = rates_file(tmp_path / "rates.csv", [f"USD,EUR,{rate}000,2026-01-05,ECB"])
    assert invoke(engine, "rates", "import", str(path)).exit_code == 0
    with session_scope(engine) as s:
        assert s.scalar(select(ExchangeRate.rate)) == Decimal(rate)


def test_a_bad_rates_file_is_one_error_naming_line_and_column_and_writes_nothing(engine, tmp_path):
    add_customers(engine)
    path = rates_file(
        tmp_path / "rates.csv",
        [
            "USD,EUR,0.9,2026-01-01,ECB",
            "USD,XXX,0.9,2026-01-01,ECB",
            "USD,EUR,zero,2026-01-02,ECB",
            "USD,EUR,0.9,1/3/2026,ECB",
            "USD,EUR,0.91,2026-01-01,ECB",
        ],
    )
    result = invoke(engine, "rates", "import", str(path))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "line 3, column to: unknown currency 'XXX'" in text
    assert "line 4, column rate: not a number: 'zero'" in text
    assert "line 5, column day: not a date: '1/3/2026' (expected YYYY-MM-DD)" in text
    assert "line 6: a second USD->EUR rate for 2026-01-01 (first on line 2)" in text
    assert "Traceback" not in result.output
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ExchangeRate)) == 0
    missing = tmp_path / "short.csv"
    missing.write_text("from,to,rate,day\nUSD,EUR,1,2026-01-01\n")
    result = invoke(engine, "rates", "import", str(missing))
    assert result.exit_code == 2 and "line 1: missing column source" in result.output
