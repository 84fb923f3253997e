"""Who holds an executor's claim; re-evaluations still owed after a committed change.

`outbox_actions.claimed_by` names the process that claimed an action (host and pid
namespace, pid, process start time, a per-process token: `riskdesk.actions.recovery.Holder`),
so the next run recovers an action whose holder is provably gone at once, not after the lease.

`pending_reevaluations` is written in the transaction of a change that must be followed by
judging its customer again (a payment): a command killed after that commit leaves the row,
and the next command that touches collections finishes it first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_actions") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
    op.create_table(
        "pending_reevaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_pending_reevaluations_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_reevaluations")),
    )
    op.create_index(
        op.f("ix_pending_reevaluations_customer_id"), "pending_reevaluations", ["customer_id"]
    )


def downgrade() -> None:
    op.drop_table("pending_reevaluations")
    with op.batch_alter_table("outbox_actions") as batch:
        batch.drop_column("claimed_by")
