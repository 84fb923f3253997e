"""Invoice disputes: who opened one and why, and how it was resolved.

`invoices.disputed` stays the flag the facts query reads (a dispute is open now); this table
keeps each dispute's reason, who recorded and resolved it, the outcome and, for an upheld
dispute, the credit note (a `payments` row of method `credit_note`) that settled the invoice.
Invoices already marked disputed (imported, or the demo's) get no row here: the first
resolution records one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("outcome IS NULL")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "invoice_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("opened_at"),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        _ts("resolved_at", True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("credit_payment_id", sa.Integer(), nullable=True),
        sa.Column("credited_micros", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "outcome in ('upheld', 'rejected')", name=op.f("ck_invoice_disputes_outcome")
        ),
        sa.CheckConstraint(
            "(outcome IS NULL) = (resolved_at IS NULL)",
            name=op.f("ck_invoice_disputes_resolved_with_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_disputes_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_invoice_disputes_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_payment_id"],
            ["payments.id"],
            name=op.f("fk_invoice_disputes_credit_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_disputes")),
    )
    op.create_index(op.f("ix_invoice_disputes_invoice_id"), "invoice_disputes", ["invoice_id"])
    op.create_index(op.f("ix_invoice_disputes_customer_id"), "invoice_disputes", ["customer_id"])
    op.create_index(
        "uq_invoice_disputes_one_open_per_invoice",
        "invoice_disputes",
        ["invoice_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_table("invoice_disputes")
