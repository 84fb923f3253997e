"""Migration 0010 goes down and up again with a book in it (customers referenced by other
tables keep their rows; the budget columns and the new tables go and come back)."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import inspect, text

from book_builders import customer, invoice
from riskdesk.db.engine import _alembic_config, migrate, schema_is_current, session_scope


def test_0010_down_and_up_keeps_the_book(engine):
    with session_scope(engine) as session:
        cust = customer(session, "Contoso GmbH", "EUR", domain="contoso.example")
        invoice(session, cust, "INV-1", "100.00", date(2026, 1, 1), date(2026, 1, 31))
    with engine.begin() as conn:
        conn.execute(text("UPDATE customers SET usage_budget_micros = 500000000"))
    config = _alembic_config(engine)
    command.downgrade(config, "0009")
    names = inspect(engine).get_table_names()
    assert "service_requests" not in names and "support_topics" not in names
    columns = {c["name"] for c in inspect(engine).get_columns("customers")}
    assert "usage_budget_micros" not in columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM invoices")).scalar() == 1
    migrate(engine)
    assert schema_is_current(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT usage_budget_micros FROM customers")).scalar() is None
