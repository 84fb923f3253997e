"""`subscriptions`: the reseller's own subscription list (no Partner Center API), both databases."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, InvoiceLine, Subscription
from riskdesk.imports import ImportFileError, import_file

T1 = "196e2273-9651-43a3-ba7e-7cbcd918fc40"
T2 = "0c5b1e41-2f0b-4c9e-9d51-1a8f3e0b7c22"
S1 = "3d4e5f60-0000-4000-8000-000000000001"
S2 = "3d4e5f60-0000-4000-8000-000000000002"
S3 = "3d4e5f60-0000-4000-8000-000000000003"

HEADER = [
    "subscription",
    "customer",
    "offer_id",
    "offer_name",
    "kind",
    "quantity",
    "unit_price",
    "billing_cycle",
    "status",
    "created_on",
]


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_customers(engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "customers.csv",
        ["provider_customer_id", "name", "currency"],
        [[T1, "Contoso", "EUR"], [T2, "Fabrikam", "JPY"]],
    )
    assert import_file(engine, "customers", path).rows_inserted == 2


def rows() -> list[list[str]]:
    return [
        [S1, T1, "CFQ7TTC0LF8Q:0001", "Microsoft 365 E3", "seat", "10", "32.40", "monthly"]
        + ["active", "2025-10-03"],
        [S2, T1.upper(), "DZH318Z0BPS6:0001", "Azure plan", "usage", "", "", "", "", ""],
        [S3, T2, "CFQ7TTC0LF8R:0001", "", "", "5", "1200", "annual", "suspended", "2025-11-01"],
    ]


def subscriptions(engine) -> dict[str, Subscription]:
    with session_scope(engine) as session:
        found = session.scalars(select(Subscription)).all()
        session.expunge_all()
    return {s.provider_subscription_id: s for s in found}


def test_subscriptions_land_with_the_book_fields_and_reimport_adds_nothing(engine, tmp_path):
    load_customers(engine, tmp_path)
    path = write(tmp_path / "subscriptions.csv", HEADER, rows())
    result = import_file(engine, "subscriptions", path)
    assert (result.rows_read, result.rows_inserted, result.rows_updated) == (3, 3, 0)
    book = subscriptions(engine)
    e3, azure, other = book[S1], book[S2], book[S3]
    assert (e3.offer_id, e3.offer_name) == ("CFQ7TTC0LF8Q:0001", "Microsoft 365 E3")
    assert e3.kind == "seat"
    assert (e3.quantity, e3.unit_price, e3.currency) == (10, Decimal("32.40"), "EUR")
    assert (e3.billing_cycle, e3.provider_status, e3.created_on) == (
        "monthly",
        "active",
        date(2025, 10, 3),
    )
    # the customer is found case-insensitively; usage means a consumption plan, billed as used
    assert azure.customer_id == e3.customer_id
    assert (azure.kind, azure.quantity, azure.billing_cycle, azure.provider_status) == (
        "consumption",
        1,
        "none",
        "active",
    )
    # no offer name: the offer id; the currency is the customer's
    assert (other.offer_name, other.currency, other.provider_status) == (
        "CFQ7TTC0LF8R:0001",
        "JPY",
        "suspended",
    )

    again = import_file(engine, "subscriptions", path)
    assert (again.rows_inserted, again.rows_updated, again.rows_duplicate) == (0, 0, 3)
    assert len(subscriptions(engine)) == 3


def test_a_changed_status_or_quantity_updates_the_subscription_and_is_audited(engine, tmp_path):
    load_customers(engine, tmp_path)
    import_file(engine, "subscriptions", write(tmp_path / "s.csv", HEADER, rows()))
    changed = rows()
    changed[0][5] = "12"  # quantity 10 -> 12
    changed[2][8] = "Active"  # suspended -> active (any case)
    # a later file with only some columns keeps what it does not say
    short = [[r[0], r[1], r[2], r[5], r[8]] for r in changed]
    path = write(
        tmp_path / "s2.csv", ["subscription", "customer", "offer_id", "quantity", "status"], short
    )
    result = import_file(engine, "subscriptions", path)
    assert (result.rows_inserted, result.rows_updated, result.rows_duplicate) == (0, 2, 1)
    book = subscriptions(engine)
    assert (book[S1].quantity, book[S1].provider_status) == (12, "active")
    assert (book[S1].unit_price, book[S1].billing_cycle) == (Decimal("32.40"), "monthly")
    assert book[S3].provider_status == "active" and book[S3].quantity == 5
    assert book[S2].quantity == 1  # empty in the file: unchanged
    with session_scope(engine) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "subscription.imported_changes")
        ).all()
        assert sorted(str(e.data["changes"]) for e in events) == [
            "{'provider_status': ['suspended', 'active']}",
            "{'quantity': [10, 12]}",
        ]
    assert import_file(engine, "subscriptions", path).rows_updated == 0


def test_bad_rows_are_named_by_line_and_column_and_nothing_is_written(engine, tmp_path):
    load_customers(engine, tmp_path)
    import_file(engine, "subscriptions", write(tmp_path / "s.csv", HEADER, rows()[:1]))
    bad = [
        [S1, T1, "CFQ7TTC0LF8Q:0001", "", "", "3", "", "", "deleted", ""],  # good: an update
        ["S-4", "nobody", "X:1", "", "", "1", "", "", "", ""],
        ["S-5", T1, "X:1", "", "rental", "1", "", "", "", ""],
        ["S-6", T1, "X:1", "", "", "-2", "", "", "", ""],
        ["S-7", T1, "X:1", "", "", "1", "", "weekly", "", ""],
        ["S-8", T1, "X:1", "", "", "1", "", "", "gone", ""],
        ["s-4", T1, "X:1", "", "", "1", "", "", "", "2/30/2025"],
        [S1.upper(), T2, "X:1", "", "", "1", "", "", "", ""],
        ["S-9", T2, "X:1", "", "", "1", "0.5", "", "", ""],  # finer than JPY allows
        ["S-10", T1, "", "", "", "1", "", "", "", ""],
    ]
    path = write(tmp_path / "bad.csv", HEADER, bad)
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "subscriptions", path)
    got = [(e.line, e.column) for e in caught.value.errors]
    assert got == [
        (3, "customer"),
        (4, "kind"),
        (5, "quantity"),
        (6, "billing_cycle"),
        (7, "status"),
        (8, "created_on"),
        (8, "subscription"),  # the same id as line 3 (ids are case-insensitive)
        (9, "subscription"),  # the same id as line 2
        (9, "customer"),  # S1 is Contoso's: never moved to another customer
        (10, "unit_price"),
        (11, "offer_id"),
    ]
    messages = {(e.line, e.column): e.message for e in caught.value.errors}
    assert "expected one of active, suspended" in messages[(7, "status")]
    assert "another customer's" in messages[(9, "customer")]
    # nothing written: not the new rows, not the update of line 2
    book = subscriptions(engine)
    assert set(book) == {S1} and (book[S1].quantity, book[S1].provider_status) == (10, "active")

    rejects = tmp_path / "bad-subscriptions.csv"
    result = import_file(engine, "subscriptions", path, skip_bad_rows=True, reject_path=rejects)
    assert (result.rows_updated, result.rows_rejected, result.reject_path) == (1, 9, rejects)
    assert subscriptions(engine)[S1].provider_status == "deleted"
    with open(rejects, newline="") as handle:
        rejected = list(csv.reader(handle))
    assert rejected[0] == [*HEADER, "error"]
    assert [r[0] for r in rejected[1:]] == [
        "S-4",
        "S-5",
        "S-6",
        "S-7",
        "S-8",
        "s-4",
        S1.upper(),
        "S-9",
        "S-10",
    ]
    assert rejected[1][-1] == "customer: unknown customer 'nobody'"


def test_the_cli_imports_subscriptions_that_invoices_then_name(engine, tmp_path):
    """A reseller without the API: customers, then subscriptions, then invoices naming them."""
    load_customers(engine, tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    path = write(tmp_path / "subscriptions.csv", HEADER, rows())
    runner = CliRunner()
    result = runner.invoke(
        app, ["--database-url", url, "import", "subscriptions", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rows_inserted"], report["rows_updated"]) == (3, 0)
    invoices = write(
        tmp_path / "invoices.csv",
        ["invoice_number", "customer", "issued_on", "due_on", "currency"]
        + ["description", "subscription", "amount"],
        [["INV-1", T1, "2026-01-01", "2026-01-15", "EUR", "E3", S1.upper(), "324.00"]],
    )
    result = runner.invoke(app, ["--database-url", url, "import", "invoices", str(invoices)])
    assert result.exit_code == 0, result.output
    with session_scope(engine) as session:
        line = session.scalars(select(InvoiceLine)).one()
        assert line.subscription_id == session.scalar(
            select(Subscription.id).where(Subscription.provider_subscription_id == S1)
        )
        assert session.scalar(select(func.count()).select_from(Subscription)) == 3
    bad = write(tmp_path / "bad.csv", HEADER, [["S-9", T1, "X:1", "", "", "1", "", "", "gone", ""]])
    result = runner.invoke(app, ["--database-url", url, "import", "subscriptions", str(bad)])
    assert result.exit_code != 0
    assert f"{bad}:2: status: unknown status 'gone'" in result.output
