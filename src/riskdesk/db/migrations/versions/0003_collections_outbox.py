"""Collections and the outbox: intended actions, collection states, promises to pay, policies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "notify_email",
    "suspend_subscription",
    "reactivate_subscription",
    "block_orders",
    "unblock_orders",
    "open_review_case",
    "webhook",
)
STATUSES = ("pending", "awaiting_approval", "in_progress", "done", "failed", "cancelled")
PROMISE_STATUSES = ("active", "kept", "broken", "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbox_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _ts("next_attempt_at"),
        _ts("claimed_at", True),
        _ts("effect_started_at", True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        _ts("approved_at", True),
        sa.CheckConstraint(f"kind in {_in(KINDS)}", name=op.f("ck_outbox_actions_kind")),
        sa.CheckConstraint(f"status in {_in(STATUSES)}", name=op.f("ck_outbox_actions_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_actions_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbox_actions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_outbox_actions_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_actions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_actions_idempotency_key")),
    )
    with op.batch_alter_table("outbox_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_actions_due", ["status", "next_attempt_at", "id"], unique=False
        )
        batch_op.create_index("ix_outbox_actions_claimed", ["status", "claimed_at"], unique=False)
        batch_op.create_index("ix_outbox_actions_subscription", ["subscription_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_actions_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "collection_states",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("entered_on", sa.Date(), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.Column("orders_blocked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_collection_states_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_collection_states")),
    )

    op.create_table(
        "promises_to_pay",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(
            f"status in {_in(PROMISE_STATUSES)}", name=op.f("ck_promises_to_pay_status")
        ),
        sa.CheckConstraint("amount_micros > 0", name=op.f("ck_promises_to_pay_amount_positive")),
        sa.CheckConstraint(
            "due_on >= promised_on", name=op.f("ck_promises_to_pay_due_after_promise")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_promises_to_pay_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises_to_pay")),
    )
    with op.batch_alter_table("promises_to_pay", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promises_to_pay_customer_status", ["customer_id", "status"], unique=False
        )

    op.create_table(
        "policy_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _ts("loaded_at"),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_versions")),
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
    with op.batch_alter_table("promises_to_pay", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_to_pay_customer_status")
    op.drop_table("promises_to_pay")
    op.drop_table("collection_states")
    with op.batch_alter_table("outbox_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_actions_customer_id"))
        batch_op.drop_index("ix_outbox_actions_subscription")
        batch_op.drop_index("ix_outbox_actions_claimed")
        batch_op.drop_index("ix_outbox_actions_due")
    op.drop_table("outbox_actions")
