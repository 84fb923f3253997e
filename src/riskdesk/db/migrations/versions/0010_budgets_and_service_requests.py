"""Customers' usage spending budgets; service requests to the provider; support topics cached.

`customers` gains the provider's usage spending budget (`usagebudget`, in the customer's
billing currency) and when it was last read. `service_requests` keeps each request about a
customer: opened through the provider's API (its status followed by sync) or filed by hand
and recorded with the provider's reference (`manual`; the 21Vianet cloud lists no
service-request API), with who opened it and its timeline. `support_topics` caches the
provider's topics.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("customers", sa.Column("usage_budget_micros", sa.BigInteger(), nullable=True))
    op.add_column(
        "customers", sa.Column("usage_budget_currency", sa.String(length=3), nullable=True)
    )
    op.add_column("customers", _ts("usage_budget_synced_at", True))
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_reference", sa.String(length=64), nullable=False),
        sa.Column("cloud", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("support_topic_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        _ts("opened_at"),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        _ts("updated_at"),
        _ts("closed_at", True),
        _ts("last_synced_at", True),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status in ('open', 'attention_needed', 'closed')",
            name=op.f("ck_service_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_service_requests_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_service_requests_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("source_key", name=op.f("uq_service_requests_source_key")),
        sa.UniqueConstraint("cloud", "provider_reference", name="uq_service_requests_reference"),
    )
    op.create_index(op.f("ix_service_requests_customer_id"), "service_requests", ["customer_id"])
    op.create_index("ix_service_requests_status", "service_requests", ["status"])
    op.create_table(
        "support_topics",
        sa.Column("topic_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        _ts("synced_at"),
        sa.PrimaryKeyConstraint("topic_id", name=op.f("pk_support_topics")),
    )


def downgrade() -> None:
    op.drop_table("support_topics")
    op.drop_index("ix_service_requests_status", table_name="service_requests")
    op.drop_index(op.f("ix_service_requests_customer_id"), table_name="service_requests")
    op.drop_table("service_requests")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of
    # `customers` would drop a table other tables' foreign keys name.
    for column in ("usage_budget_synced_at", "usage_budget_currency", "usage_budget_micros"):
        op.drop_column("customers", column)
