"""Bad values typed to a command are one error naming what, with exit 2, and nothing is
written (issue 13 item 7): NUL bytes, amounts beyond what a Decimal holds, days out of range."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.db.engine import make_engine
from riskdesk.db.models import Payment
from riskdesk.errors import EXIT_CODES

runner = CliRunner()
TENANT = "196e2273-9651-43a3-ba7e-7cbcd918fc40"


def invoke(database_url: str, *args: str):
    return runner.invoke(app, ["--database-url", database_url, *args], catch_exceptions=False)


@pytest.fixture
def book(database_url, tmp_path):
    """An initialised book with one customer."""
    assert invoke(database_url, "init").exit_code == 0
    customers = tmp_path / "c.csv"
    customers.write_text(
        "provider_customer_id,name,currency,payment_terms_days,created_on\n"
        f"{TENANT},Contoso,EUR,30,2025-01-01\n"
    )
    assert invoke(database_url, "import", "customers", str(customers)).exit_code == 0
    return database_url


def _payments(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Payment))
    engine.dispose()
    return int(count or 0)


def _one_line(result) -> str:
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--reference", "BANK\x00881"), "option --reference"),
        (("--reference=BANK\x00881",), "option --reference"),
        (("--reference", "BANK-881", "--invoice", "INV\x001"), "option --invoice"),
    ],
)
def test_a_nul_byte_is_refused_naming_the_field(book, args, named):
    result = invoke(book, "payments", "record", TENANT, "10.00", "EUR", "--no-execute", *args)
    assert result.exit_code == EXIT_CODES["invalid"]
    assert _one_line(result).startswith(f"error: {named} contains a NUL byte")
    assert _payments(book) == 0  # stored silently on SQLite before, a DataError on PostgreSQL


def test_a_nul_byte_in_an_argument_names_the_argument(book):
    result = invoke(book, "customers", "show", "--json", "Contoso\x00")
    assert result.exit_code == EXIT_CODES["invalid"]
    assert _one_line(result).startswith("error: argument CUSTOMER contains a NUL byte")


@pytest.mark.parametrize("amount", ["1e999999999", "1e308", "1E+400"])
def test_an_amount_beyond_a_decimal_is_one_line(book, amount):
    result = invoke(
        book, "payments", "record", TENANT, amount, "EUR", "--reference", "R1", "--no-execute"
    )
    assert result.exit_code == EXIT_CODES["invalid"]
    line = _one_line(result)
    assert "payment 'R1': amount" in line and "EUR is too large" in line
    assert _payments(book) == 0


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"])
@pytest.mark.parametrize(
    "command", [("aging",), ("customers", "list"), ("collections", "run", "--dry-run")]
)
def test_as_of_outside_the_documented_days_is_refused(tmp_path, command, day):
    url = f"sqlite:///{tmp_path / 'book.db'}"
    assert invoke(url, "init").exit_code == 0
    result = invoke(url, *command, "--as-of", day)
    assert result.exit_code == EXIT_CODES["invalid"]
    assert "Traceback" not in result.output
    assert "outside the days riskdesk accepts (2000-01-01 to 2100-12-31)" in " ".join(
        result.stderr.replace("│", " ").split()
    )


@pytest.mark.parametrize(
    "args",
    [
        ("payments", "record", TENANT, "10", "EUR", "--reference", "R9", "--received-on"),
        ("promises", "add", TENANT, "--amount", "10 EUR", "--by-date"),
    ],
)
def test_a_payment_or_promise_day_outside_the_range_is_refused(book, args):
    result = invoke(book, *args, "0001-01-01", "--no-execute")
    assert result.exit_code == EXIT_CODES["invalid"]
    assert "outside the days riskdesk accepts" in " ".join(result.stderr.replace("│", " ").split())
    assert _payments(book) == 0


@pytest.mark.parametrize("day", ["2000-01-01", "2100-12-31"])
def test_as_of_at_the_ends_of_the_range_works(tmp_path, day):
    url = f"sqlite:///{tmp_path / 'book.db'}"
    assert invoke(url, "init").exit_code == 0
    assert invoke(url, "aging", "--as-of", day).exit_code == 0


def _with_huge_cell(path, line_index: int, column: int) -> None:
    lines = path.read_text().splitlines()
    fields = lines[line_index].split(",")
    fields[column] = "y" * 10_000_000  # 10 MB in one cell
    lines[line_index] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("kind", ["customers", "pc-usage"])
def test_a_10_mb_cell_is_one_line_naming_file_and_line(tmp_path, kind):
    from riskdesk.imports.samples import write_pc_usage_csv

    url = f"sqlite:///{tmp_path / 'book.db'}"
    assert invoke(url, "init").exit_code == 0
    path = tmp_path / f"{kind}.csv"
    if kind == "customers":
        path.write_text(
            "provider_customer_id,name,currency,payment_terms_days,created_on\n"
            f"{TENANT},Contoso,EUR,30,2025-01-01\n"
            "0c5b1e41-2f0b-4c9e-9d51-1a8f3e0b7c22,Fabrikam,EUR,30,2025-01-01\n"
        )
        _with_huge_cell(path, 2, 1)
    else:
        write_pc_usage_csv(path, [TENANT], 5)
        _with_huge_cell(path, 2, 3)
    result = invoke(url, "import", kind, str(path))
    assert result.exit_code == EXIT_CODES["invalid"]
    line = _one_line(result)
    assert line.startswith(f"error: {path}:3: the line is 10,0")
    assert "nothing was imported" in line
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM customers").scalar() == 0
        assert connection.exec_driver_sql("SELECT count(*) FROM import_runs").scalar() == 0
    engine.dispose()


def test_a_nul_byte_reaching_postgresql_is_one_line_naming_table_and_column(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL refuses NUL bytes; keeping them out of SQLite is the importer's")
    assert invoke(database_url, "init").exit_code == 0
    path = tmp_path / "c.csv"
    path.write_text(
        "provider_customer_id,name,currency,payment_terms_days,created_on\n"
        f"{TENANT},Con\x00toso,EUR,30,2025-01-01\n"
    )
    result = invoke(database_url, "import", "customers", str(path))
    assert result.exit_code == EXIT_CODES["invalid"]
    # The importer now refuses a NUL itself, on both databases, as a bad row naming line and
    # column (tests/test_imports_reseller.py), before it reaches PostgreSQL.
    assert f"{path}:2: name: contains a NUL character" in " ".join(result.output.split())
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM customers").scalar() == 0
    engine.dispose()
