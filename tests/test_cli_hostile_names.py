"""Names and references come from files and the provider, and are printed as they are: Rich
markup in a name is text, not markup (a `[/bold]` was a MarkupError after the command had
written), and control characters cannot retitle or recolour the operator's terminal."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from riskdesk.cli import app

runner = CliRunner()

MARKUP = "[/bold] Closing Co"
LINK = "[link=https://evil.example]Click[/link] Ltd"
ESCAPES = "Evil\x1b]0;pwned\x07\x1b[31mRED\x1b[0m Co"


def invoke(database_url: str, *args: str):
    # Wide enough that no name wraps in a table cell, whatever terminal the tests run in.
    return runner.invoke(
        app, ["--database-url", database_url, *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )


@pytest.fixture
def book(database_url, tmp_path):
    assert invoke(database_url, "init").exit_code == 0
    customers = tmp_path / "c.csv"
    customers.write_text(
        "provider_customer_id,name,currency\n"
        f'mk-1,"{MARKUP}",EUR\n'
        f'ln-1,"{LINK}",EUR\n'
        f'esc-1,"{ESCAPES}",EUR\n'
    )
    assert invoke(database_url, "import", "customers", str(customers)).exit_code == 0
    invoices = tmp_path / "i.csv"
    invoices.write_text(
        "invoice_number,customer,issued_on,due_on,currency,description,amount\n"
        "MK-1,mk-1,2026-09-01,2026-10-01,EUR,seats,100\n"
    )
    assert invoke(database_url, "import", "invoices", str(invoices)).exit_code == 0
    return database_url


@pytest.mark.parametrize(
    "args",
    [
        ("customers", "list"),
        ("customers", "show", "mk-1"),
        ("customers", "show", "ln-1"),
        ("collections", "run", "--dry-run"),
        ("collections", "preview", "--days", "40"),
    ],
)
def test_markup_in_a_name_is_printed_as_text(book, args):
    result = invoke(book, *args)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    if args[:2] == ("customers", "list") or args[-1] == "mk-1":
        assert MARKUP in flat
    if args[-1] == "ln-1":
        assert LINK in flat


def test_a_write_whose_summary_names_the_customer_does_not_fail_after_writing(book):
    result = invoke(
        book, "promises", "add", "mk-1", "--amount", "50 EUR", "--by-date", "2026-12-20",
        "--no-execute",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert MARKUP in " ".join(result.output.split())


def test_control_characters_never_reach_the_terminal(book):
    for args in (("customers", "list"), ("customers", "show", "esc-1")):
        result = invoke(book, *args)
        assert result.exit_code == 0
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert "Evil" in result.output and "RED" in result.output
