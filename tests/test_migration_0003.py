"""Migration 0003 (outbox, collection states, promises, policy versions) goes down and up."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from riskdesk.db.engine import _alembic_config, migrate, schema_is_current

TABLES = {"outbox_actions", "collection_states", "promises_to_pay", "policy_versions"}


def test_0003_downgrades_and_upgrades(engine):
    config = _alembic_config(engine)
    command.downgrade(config, "0002")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert "customers" in inspect(engine).get_table_names()
    migrate(engine)
    assert schema_is_current(engine)
    names = set(inspect(engine).get_table_names())
    assert names >= TABLES
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("outbox_actions")}
    assert {"ix_outbox_actions_due", "ix_outbox_actions_claimed"} <= indexes
