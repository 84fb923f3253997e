"""Orders are blocked with the collections stage, not by outbox actions; a leaner claim index.

The order block has no effect outside riskdesk, so a collections run now records it with the
stage (`collection_states.orders_blocked`) in its own transaction instead of enqueuing
`block_orders` / `unblock_orders` actions. Such actions still waiting are cancelled (the run
that planned them already set the same flag); finished ones stay as history, so the kind
check keeps allowing them.

The stale-lease index only ever serves `status = 'in_progress'`, a handful of rows at a
time: it becomes a partial index on `claimed_at`, so enqueuing a first collections run's
hundred and fifty thousand actions no longer maintains an entry for each.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_PROGRESS = sa.text("status = 'in_progress'")


def upgrade() -> None:
    op.execute(
        "UPDATE outbox_actions SET status = 'cancelled', "
        "last_error = 'superseded: orders are blocked with the collections stage (0004)' "
        "WHERE kind IN ('block_orders', 'unblock_orders') "
        "AND status IN ('pending', 'awaiting_approval', 'in_progress', 'failed')"
    )
    op.drop_index("ix_outbox_actions_claimed", table_name="outbox_actions")
    op.create_index(
        "ix_outbox_actions_claimed",
        "outbox_actions",
        ["claimed_at"],
        sqlite_where=IN_PROGRESS,
        postgresql_where=IN_PROGRESS,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_actions_claimed", table_name="outbox_actions")
    op.create_index("ix_outbox_actions_claimed", "outbox_actions", ["status", "claimed_at"])
