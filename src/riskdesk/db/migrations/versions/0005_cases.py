"""Cases (first kind: collections review); collection states count their transitions.

`collection_states` gains `transitions` (how many stage changes were recorded), the latest
`transition_key` and `subscriptions_suspended`: a transition's key counts on from the last,
so a customer leaving and re-entering a stage on one day gets new actions, and the executor
can tell an action planned for an earlier transition from a current one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        _ts("opened_at"),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        _ts("closed_at", True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint("kind in ('collections_review')", name=op.f("ck_cases_kind")),
        sa.CheckConstraint("status in ('open', 'closed')", name=op.f("ck_cases_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_cases_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("source_key", name=op.f("uq_cases_source_key")),
    )
    op.create_index(op.f("ix_cases_customer_id"), "cases", ["customer_id"])
    op.create_index("ix_cases_status_opened", "cases", ["status", "opened_at"])
    op.create_index(
        "uq_cases_one_open_per_customer_kind",
        "cases",
        ["customer_id", "kind"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    with op.batch_alter_table("collection_states") as batch:
        batch.add_column(
            sa.Column(
                "subscriptions_suspended",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
        batch.add_column(
            sa.Column("transitions", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("transition_key", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collection_states") as batch:
        batch.drop_column("transition_key")
        batch.drop_column("transitions")
        batch.drop_column("subscriptions_suspended")
    op.drop_table("cases")
