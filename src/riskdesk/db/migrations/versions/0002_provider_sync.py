"""Provider sync: the provider's fraud events and per-stream sync state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_fraud_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("provider_customer_id", sa.String(length=64), nullable=True),
        sa.Column("provider_subscription_id", sa.String(length=64), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_provider_fraud_events_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_fraud_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_provider_fraud_events_event_id")),
    )
    with op.batch_alter_table("provider_fraud_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_fraud_events_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provider_fraud_events_provider_subscription_id"),
            ["provider_subscription_id"],
            unique=False,
        )
    op.create_table(
        "sync_state",
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("sync_state")
    with op.batch_alter_table("provider_fraud_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_fraud_events_provider_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_provider_fraud_events_customer_id"))
    op.drop_table("provider_fraud_events")
