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


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
@pytest.mark.parametrize(
    "command", [("aging",), ("customers", "list"), ("collections", "run", "--dry-run")]
)
def test_as_of_outside_the_documented_days_is_refused(tmp_path, command, day):
    url = f"sqlite:///{tmp_path / 'book.db'}"
    assert invoke(url, "init").exit_code == 0
    result = invoke(url, *command, "--as-of", day)
    assert result.exit_code == EXIT_CODES["invalid"]
    assert "Traceback" not in result.output
    assert "outside the days riskdesk accepts (2000-01-01 to 2099-12-31)" in " ".join(
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


@pytest.mark.parametrize("day", ["2000-01-01", "2099-12-31"])
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


HUGE = "99999999999999999999999"  # beyond a 64-bit integer: SQLite overflowed, PostgreSQL too
BEYOND_POSTGRESQL = str(2**31)  # beyond an INTEGER id on PostgreSQL


@pytest.mark.parametrize(
    "args",
    [
        ("customers", "show", HUGE),
        ("audit", "show", "--customer", HUGE),
        ("promises", "add", HUGE, "--amount", "10 EUR", "--by-date", "2026-01-05", "--no-execute"),
        ("promises", "list", HUGE),
        ("payments", "record", HUGE, "10", "EUR", "--reference", "R-HUGE", "--no-execute"),
    ],
)
@pytest.mark.parametrize("number", [HUGE, BEYOND_POSTGRESQL])
def test_a_huge_number_as_customer_is_no_customer(book, args, number):
    result = invoke(book, *(number if a == HUGE else a for a in args))
    assert result.exit_code == EXIT_CODES["not_found"], result.output
    assert _one_line(result).startswith(f"error: unknown customer '{number}'")
    assert _payments(book) == 0


@pytest.mark.parametrize("value", [HUGE, str(2**63), str(2**31), "0"])
@pytest.mark.parametrize(
    "args",
    [
        ("audit", "show", "--action-id", "{}"),
        ("audit", "show", "--subscription", "{}"),
        ("audit", "show", "--limit", "{}"),
        ("outbox", "list", "--limit", "{}"),
        ("outbox", "approve", "{}", "--by", "j.doe"),
        ("outbox", "cancel", "{}", "--by", "j.doe", "--reason", "r"),
        ("outbox", "retry", "{}", "--by", "j.doe", "--reason", "r"),
        ("cases", "close", "{}", "--by", "j.doe", "--resolution", "r"),
        ("promises", "cancel", "{}", "--no-execute"),
    ],
)
def test_an_id_or_limit_outside_what_an_id_column_holds_is_refused(book, args, value):
    result = invoke(book, *(a.format(value) for a in args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    assert f"{value} is outside 1 to {2**31 - 1}" in " ".join(
        result.stderr.replace("│", " ").split()
    )


def test_the_largest_id_is_accepted_and_simply_not_found(book):
    result = invoke(book, "outbox", "approve", str(2**31 - 1), "--by", "j.doe")
    assert result.exit_code == EXIT_CODES["not_found"], result.output


def test_a_reference_longer_than_its_column_is_one_error_naming_it(book):
    result = invoke(
        book, "payments", "record", TENANT, "10", "EUR", "--reference", "R" * 5000, "--no-execute"
    )
    assert result.exit_code == EXIT_CODES["invalid"], result.output
    line = _one_line(result)
    assert "--reference is 5,000 characters long" in line and "at most 64 characters" in line
    assert "payments.reference" in line
    assert _payments(book) == 0


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (
            ("--actor", "a" * 300, "payments", "record", TENANT, "10", "EUR", "--reference", "R1"),
            "--actor",
        ),
        (("payments", "reverse", "R1", "--reason", "bounced", "--by", "b" * 300), "--by"),
        (("outbox", "approve", "1", "--by", "b" * 300), "--by"),
        (("cases", "close", "1", "--by", "b" * 300, "--resolution", "r"), "--by"),
    ],
)
def test_an_actor_longer_than_its_column_is_one_error_naming_the_option(book, args, option):
    result = invoke(book, *args, "--no-execute") if "payments" in args else invoke(book, *args)
    assert result.exit_code == EXIT_CODES["invalid"], result.output
    line = _one_line(result)
    assert line.startswith(f"error: {option}")
    assert "300 characters long" in line and "at most 100 characters" in line
    assert _payments(book) == 0


def test_a_value_the_database_cannot_hold_is_one_error_naming_table_and_column(database_url):
    """The last resort, under every use case: text too long (PostgreSQL; SQLite keeps it) and
    an integer beyond 64 bits (both) are an InvalidInputError naming table and column."""
    from sqlalchemy import insert

    from riskdesk.db.engine import UnstorableValueError, migrate, session_scope
    from riskdesk.db.models import Customer

    engine = make_engine(database_url)
    migrate(engine)
    row = dict(provider_customer_id="p-1", name="N", currency="EUR", payment_terms_days=30)
    cases = [({**row, "id": 2**70}, "a number for customers.id (1180591620717411303424)")]
    if database_url.startswith("postgresql"):
        cases.append(({**row, "currency": "EURO"}, "a text value for customers.currency ('EURO'"))
    for values, named in cases:
        with (
            pytest.raises(UnstorableValueError, match=r"nothing was written") as caught,
            session_scope(engine) as session,
        ):
            session.execute(insert(Customer).values(**values))
        assert str(caught.value).startswith(named), caught.value
    engine.dispose()


def test_resolve_dispute_refuses_both_outcomes(book):
    result = invoke(book, "invoices", "resolve-dispute", "INV-1", "--upheld", "--rejected")
    assert result.exit_code == EXIT_CODES["invalid"], result.output
    assert _one_line(result) == "error: give exactly one of --upheld or --rejected, not both"


def test_an_unknown_customer_is_named_before_the_mail_settings(book, monkeypatch):
    for name in ("RISKDESK_SMTP_HOST", "RISKDESK_MAILDIR", "RISKDESK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    result = invoke(book, "payments", "record", "nobody", "10", "EUR", "--reference", "R")
    assert result.exit_code == EXIT_CODES["not_found"], result.output
    assert _one_line(result).startswith("error: unknown customer 'nobody'")


def test_a_reference_already_recorded_is_a_conflict(book):
    args = ("payments", "record", TENANT, "10", "EUR", "--reference", "R-1", "--no-execute")
    assert invoke(book, *args).exit_code == 0
    again = invoke(book, *args)
    assert again.exit_code == EXIT_CODES["conflict"], again.output
    assert _one_line(again) == "error: payment reference 'R-1' is already recorded"
    assert _payments(book) == 1
