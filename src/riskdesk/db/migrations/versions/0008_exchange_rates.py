"""Usage in another currency is converted, not dropped: exchange rates and each usage row's own.

`exchange_rates` holds the reseller's rates (1 from_currency = rate to_currency on a day, and
where the rate came from); `usage_records` gains the Partner Center row's own conversion
(PricingCurrency, PCToBCExchangeRate, PCToBCExchangeRateDate). Rates are exact decimal text.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "from_currency <> to_currency", name=op.f("ck_exchange_rates_distinct_currencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
    )
    op.create_index(
        "uq_exchange_rates_pair_day",
        "exchange_rates",
        ["from_currency", "to_currency", "day"],
        unique=True,
    )
    # Nullable columns: a plain ALTER TABLE ADD COLUMN on both databases (no table rebuild).
    op.add_column("usage_records", sa.Column("pricing_currency", sa.String(3), nullable=True))
    op.add_column("usage_records", sa.Column("pc_to_bc_rate", sa.String(40), nullable=True))
    op.add_column("usage_records", sa.Column("pc_to_bc_rate_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("pc_to_bc_rate_date")
        batch.drop_column("pc_to_bc_rate")
        batch.drop_column("pricing_currency")
    op.drop_index("uq_exchange_rates_pair_day", table_name="exchange_rates")
    op.drop_table("exchange_rates")
