"""Migration 0004: order-block actions left waiting are cancelled; the claim index is partial."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from riskdesk.db.engine import _alembic_config, migrate, schema_is_current

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _action(conn, key: str, kind: str, status: str) -> None:
    conn.execute(
        text(
            "INSERT INTO outbox_actions (idempotency_key, kind, customer_id, payload, status, "
            "attempts, next_attempt_at, created_at, updated_at) "
            "VALUES (:key, :kind, 1, '{}', :status, 0, :now, :now, :now)"
        ),
        {"key": key, "kind": kind, "status": status, "now": NOW},
    )


def test_0004_cancels_waiting_order_block_actions_and_keeps_history(engine):
    config = _alembic_config(engine)
    command.downgrade(config, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (id, provider_customer_id, name, country, currency, "
                "payment_terms_days, "
                "tags, created_on) VALUES (1, 't-1', 'Old Customer', 'DE', 'EUR', 30, '[]', "
                "'2025-01-01')"
            )
        )
        _action(conn, "old-block-pending", "block_orders", "pending")
        _action(conn, "old-unblock-waiting", "unblock_orders", "awaiting_approval")
        _action(conn, "old-block-done", "block_orders", "done")
        _action(conn, "old-notice", "notify_email", "pending")
    migrate(engine)
    assert schema_is_current(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT idempotency_key, status FROM outbox_actions")).all())
    assert rows == {
        "old-block-pending": "cancelled",
        "old-unblock-waiting": "cancelled",
        "old-block-done": "done",  # history stays as it was
        "old-notice": "pending",
    }
    (claimed,) = [
        ix
        for ix in inspect(engine).get_indexes("outbox_actions")
        if ix["name"] == "ix_outbox_actions_claimed"
    ]
    assert claimed["column_names"] == ["claimed_at"]
    command.downgrade(config, "0003")
    migrate(engine)
    assert schema_is_current(engine)
