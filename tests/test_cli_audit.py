"""`audit verify` and `audit show` as a user runs them (issue 13 item 5), SQLite and PostgreSQL:
an event edited or deleted in SQL is named (id, time, what is wrong) and the command exits 1."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from book_builders import customer, invoice
from riskdesk.app.clock import FixedClock
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, OutboxAction

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
runner = CliRunner()


def invoke(database_url, *args):
    return runner.invoke(
        app,
        ["--database-url", database_url, "--actor", "ops", *args],
        env={"COLUMNS": "200"},
        obj=Overrides(clock=FixedClock.on("2026-04-10")),
    )


@pytest.fixture
def trail(engine, database_url):
    """Two customers judged, a notice cancelled by j.doe, a payment: a trail of some events."""
    with session_scope(engine) as session:
        fabrikam = customer(session, "Fabrikam Ltd", "EUR", domain="fabrikam.example")
        invoice(session, fabrikam, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        other = customer(session, "Northwind", "EUR")
        invoice(session, other, "INV-8001", "90.00", date(2026, 2, 1), date(2026, 3, 3))
        ids = fabrikam.id, other.id
    run = invoke(database_url, "collections", "run", "--no-execute", "--policy", str(STANDARD))
    assert run.exit_code == 0, run.output
    with session_scope(engine) as session:
        action = session.scalars(
            select(OutboxAction).where(OutboxAction.customer_id == ids[0]).order_by(OutboxAction.id)
        ).first()
        action_id = action.id
    cancelled = invoke(
        database_url,
        "outbox",
        "cancel",
        str(action_id),
        "--by",
        "j.doe",
        "--reason",
        "sent by hand",
    )
    assert cancelled.exit_code == 0, cancelled.output
    paid = invoke(
        database_url, "payments", "record", "fabrikam.example", "100.00", "EUR",
        "--reference", "BANK-1", "--no-execute", "--policy", str(STANDARD),
    )  # fmt: skip
    assert paid.exit_code == 0, paid.output
    return {"fabrikam": ids[0], "northwind": ids[1], "action_id": action_id}


def _events(engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        session.expunge_all()
        return list(events)


def test_verify_an_intact_trail_counts_it(database_url, engine, trail):
    events = _events(engine)
    result = invoke(database_url, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"audit trail intact: {len(events):,} events" in result.output
    report = json.loads(invoke(database_url, "audit", "verify", "--json").output)
    assert report == {"intact": True, "events": len(events), "broken": None}


def test_an_event_edited_in_sql_is_named_and_verify_exits_1(database_url, engine, trail):
    events = _events(engine)
    target = next(e for e in events if e.action == "action.cancelled")
    with engine.begin() as connection:  # someone hides who cancelled the notice
        connection.execute(
            text("UPDATE audit_events SET data = :data WHERE id = :id"),
            {"data": json.dumps({**target.data, "reason": "customer asked"}), "id": target.id},
        )
    result = invoke(database_url, "audit", "verify")
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert f"audit trail broken at event {target.id}" in out, out
    assert f"{target.occurred_at:%Y-%m-%d %H:%M:%S} UTC" in out
    assert "its content does not match its hash" in out
    report = json.loads(invoke(database_url, "audit", "verify", "--json").output)
    assert not report["intact"] and report["broken"]["id"] == target.id
    assert report["events"] == events.index(target) + 1


def test_an_event_deleted_in_sql_is_named_by_the_next_ones_link(database_url, engine, trail):
    events = _events(engine)
    deleted, following = events[1], events[2]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": deleted.id})
    result = invoke(database_url, "audit", "verify")
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert f"audit trail broken at event {following.id}" in out, out
    assert f"does not name event {events[0].id}" in out and "deleted" in out


def test_show_filters_by_customer_action_actor_and_day(database_url, engine, trail):
    def shown(*args):
        result = invoke(database_url, "audit", "show", *args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    fabrikam = trail["fabrikam"]
    everything = shown()
    assert [e["id"] for e in everything] == [e.id for e in _events(engine)]
    for ref in (str(fabrikam), "fabrikam.example", "FABRIKAM LTD"):  # as other commands accept
        mine = shown("--customer", ref)
        assert mine and {(e["subject_type"], e["subject_id"]) for e in mine} == {
            ("customer", str(fabrikam))
        }
        assert {"collections.stage_changed", "action.cancelled", "payment.recorded"} <= {
            e["action"] for e in mine
        }
    action = shown("--action-id", str(trail["action_id"]))
    assert [e["action"] for e in action] == ["action.cancelled"]
    assert action[0]["data"]["reason"] == "sent by hand"
    assert [e["action"] for e in shown("--actor", "j.doe")] == ["action.cancelled"]
    on_the_day = [e for e in everything if e["occurred_at"].startswith("2026-04-10")]
    assert on_the_day and shown("--day", "2026-04-10") == on_the_day
    assert shown("--since", "2026-04-10", "--until", "2026-04-10") == on_the_day
    assert shown("--until", "2026-04-09") == []
    later = shown("--since", "2026-04-11")
    assert later == [e for e in everything if e["occurred_at"] >= "2026-04-11"]
    assert len(shown("--limit", "2")) == 2 and shown("--limit", "2") == everything[-2:]

    table = invoke(database_url, "audit", "show", "--customer", "fabrikam.example")
    assert table.exit_code == 0 and "action.cancelled" in table.output, table.output
    unknown = invoke(database_url, "audit", "show", "--customer", "nobody.example")
    assert unknown.exit_code == 3 and "nobody.example" in unknown.output
    backwards = invoke(
        database_url, "audit", "show", "--since", "2026-04-11", "--until", "2026-04-10"
    )
    assert backwards.exit_code == 2 and "later than" in backwards.output
