"""Payment reversals: who reversed a payment, when and why (`payments reverse`).

A reversed payment is kept; its allocations are removed (the audit event lists them) and
other payments re-applied. Existing payments are not reversed (the columns are NULL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("payments", sa.Column("reversed_by", sa.String(length=100), nullable=True))
    op.add_column("payments", sa.Column("reversal_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reversal_reason")
        batch.drop_column("reversed_by")
        batch.drop_column("reversed_at")
