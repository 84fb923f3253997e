"""The reseller's files, column by column: an optional `disputed` column recorded as
`invoices dispute` records it, and every import naming the columns it ignored (issue 12 h).
Helpers and the customers file come from test_imports_reseller."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from riskdesk.book.disputes import resolve_dispute
from riskdesk.book.facts import customer_facts
from riskdesk.cli import app
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Customer, DisputeOutcome, Invoice, InvoiceDispute
from riskdesk.imports import ImportFileError, import_file
from test_imports_reseller import (
    INVOICE_HEADER,
    T1,
    count,
    invoice_lines,
    load_customers,
    write,
)


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
