"""`invoices dispute | resolve-dispute` and `promises add | list | cancel` as a user runs them
(Typer app in-process, fixed clock), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from book_builders import customer, invoice
from riskdesk.app.clock import FixedClock
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, InvoiceDispute, PromiseToPay

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
runner = CliRunner()
NO_EFFECTS = ("--no-execute", "--policy", str(STANDARD))


def invoke(database_url, *args, env=None):
    return runner.invoke(
        app,
        ["--database-url", database_url, "--actor", "j.doe", *args],
        env={"COLUMNS": "200", **(env or {})},
        obj=Overrides(clock=FixedClock.on("2026-04-10")),
    )


@pytest.fixture
def fabrikam(engine):
    """Suspended on 10 April once judged: INV-7001 (1,200.00 EUR, due 31 January)."""
    with session_scope(engine) as session:
        cust = customer(session, "Fabrikam Ltd", "EUR", domain="fabrikam.example")
        invoice(session, cust, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        return cust.id


def rows(engine, model) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_dispute_then_reject_moves_the_customer_out_of_and_back_into_collections(
    database_url, engine, fabrikam
):
    judged = invoke(database_url, "collections", "run", *NO_EFFECTS)
    assert judged.exit_code == 0, judged.output
    opened = invoke(
        database_url, "invoices", "dispute", "INV-7001", "--reason", "seats billed twice",
        *NO_EFFECTS, "--json",
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    report = json.loads(opened.output)
    assert report["invoice"] == "INV-7001" and report["customer_id"] == fabrikam
    assert report["open_amount"] == {"amount": "1200.00", "currency": "EUR"}
    assert [(t["from"], t["to"]) for t in report["transitions"]] == [("suspended", None)]
    again = invoke(database_url, "invoices", "dispute", "INV-7001", "--reason", "x", *NO_EFFECTS)
    assert again.exit_code == 4 and "already disputed" in again.output
    unsaid = invoke(database_url, "invoices", "resolve-dispute", "INV-7001", *NO_EFFECTS)
    assert unsaid.exit_code == 2 and "--upheld" in unsaid.output
    rejected = invoke(
        database_url, "invoices", "resolve-dispute", "INV-7001", "--rejected", "--note",
        "usage confirmed", *NO_EFFECTS,
    )  # fmt: skip
    assert rejected.exit_code == 0, rejected.output
    out = " ".join(rejected.output.split())
    assert "rejected: 1,200.00 EUR open, back in collections" in out
    assert "stage: in good standing -> suspended" in out
    twice = invoke(database_url, "invoices", "resolve-dispute", "INV-7001", "--upheld", *NO_EFFECTS)
    assert twice.exit_code == 4 and "is not disputed" in twice.output
    unknown = invoke(database_url, "invoices", "dispute", "INV-1", "--reason", "x", *NO_EFFECTS)
    assert unknown.exit_code == 3 and "unknown invoice 'INV-1'" in unknown.output


def test_upheld_prints_the_credit_note(database_url, engine, fabrikam):
    invoke(database_url, "invoices", "dispute", "INV-7001", "--reason", "duplicate", *NO_EFFECTS)
    upheld = invoke(
        database_url, "invoices", "resolve-dispute", "INV-7001", "--upheld", *NO_EFFECTS
    )
    assert upheld.exit_code == 0, upheld.output
    assert "upheld: credit note credit-note:INV-7001:1 for 1,200.00 EUR" in " ".join(
        upheld.output.split()
    )
    shown = json.loads(
        invoke(database_url, "customers", "show", "fabrikam.example", "--json").output
    )
    assert shown["facts"]["open_balance"]["amount"] in ("0", "0.00")


def test_settings_for_carrying_out_are_checked_before_anything_is_written(
    database_url, engine, fabrikam, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no ./riskdesk.toml
    env = {"RISKDESK_MAIL_DIR": None, "RISKDESK_SMTP_HOST": None}
    before = rows(engine, AuditEvent)
    result = invoke(
        database_url, "invoices", "dispute", "INV-7001", "--reason", "x", "--policy",
        str(STANDARD), env=env,
    )  # fmt: skip
    assert result.exit_code == 2 and "mail is not configured" in result.output, result.output
    assert rows(engine, InvoiceDispute) == 0 and rows(engine, AuditEvent) == before
    promised = invoke(
        database_url, "promises", "add", "fabrikam.example", "--amount", "1200.00 EUR",
        "--by-date", "2026-04-30", "--policy", str(STANDARD), env=env,
    )  # fmt: skip
    assert promised.exit_code == 2 and rows(engine, PromiseToPay) == 0


def test_promises_add_list_cancel(database_url, engine, fabrikam):
    add = ["promises", "add", "fabrikam.example", "--by-date", "2026-04-30", *NO_EFFECTS]
    finer = invoke(database_url, *add, "--amount", "1200.005 EUR")
    assert finer.exit_code == 2 and "finer than EUR allows" in finer.output
    early = invoke(database_url, *add, "--by-date", "2026-04-09", "--amount", "1200 EUR")
    assert early.exit_code == 2 and "before today (2026-04-10)" in " ".join(early.output.split())
    made = invoke(database_url, *add, "--amount", "1200.00 EUR", "--note", "CFO", "--json")
    assert made.exit_code == 0, made.output
    promise_id = json.loads(made.output)["promise_id"]
    second = invoke(database_url, *add, "--amount", "100.00 EUR")
    assert second.exit_code == 4 and f"already has promise #{promise_id}" in second.output
    listed = invoke(database_url, "promises", "list", "fabrikam.example", "--status", "active")
    assert listed.exit_code == 0, listed.output
    assert "1,200.00 EUR" in listed.output and "2026-04-30" in listed.output
    assert "2026-04-10 by j.doe" in listed.output
    bad = invoke(database_url, "promises", "list", "--status", "pending")
    assert bad.exit_code == 2
    cancelled = invoke(
        database_url, "promises", "cancel", str(promise_id), "--reason", "withdrawn", *NO_EFFECTS
    )
    assert cancelled.exit_code == 0, cancelled.output
    data = json.loads(invoke(database_url, "promises", "list", "--json").output)
    assert [(p["id"], p["status"]) for p in data] == [(promise_id, "cancelled")]
    gone = invoke(database_url, "promises", "cancel", str(promise_id), *NO_EFFECTS)
    assert gone.exit_code == 4 and "only an active promise can be cancelled" in gone.output
