from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from riskdesk.db.bulk import bulk_insert
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Customer, UsageRecord


def test_bulk_rows_read_back_through_the_models_and_duplicates_are_skipped(engine):
    customers = Customer.__table__
    with engine.begin() as connection:
        bulk_insert(
            connection,
            customers,
            [
                "provider_customer_id",
                "name",
                "currency",
                "payment_terms_days",
                "tags",
                "created_on",
                "credit_limit_micros",
            ],
            [("t1", "A", "EUR", 30, '["x"]', date(2026, 1, 2), 1_500_000)],
        )
        bulk_insert(
            connection,
            AuditEvent.__table__,
            ["occurred_at", "actor", "action", "subject_type", "data", "prev_hash", "hash"],
            [(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "a", "b", "c", "{}", "0", "h")],
        )
    columns = [
        "customer_id",
        "provider_subscription_id",
        "usage_date",
        "meter_id",
        "quantity",
        "currency",
        "amount_micros",
        "row_hash",
    ]
    with session_scope(engine) as session:
        customer_id = session.scalars(select(Customer.id)).one()
    rows = [(customer_id, "s", date(2026, 1, d), "m", 1.5, "EUR", 10, d) for d in range(1, 11)]
    with engine.begin() as connection:
        assert (
            bulk_insert(
                connection, UsageRecord.__table__, columns, rows, ignore_conflicts_on="row_hash"
            )
            == 10
        )
    with engine.begin() as connection:
        assert (
            bulk_insert(
                connection,
                UsageRecord.__table__,
                columns,
                rows[5:] + [(customer_id, "s", date(2026, 2, 1), "m", 1.0, "EUR", 10, 99)],
                ignore_conflicts_on="row_hash",
            )
            == 1
        )
    with session_scope(engine) as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.created_on == date(2026, 1, 2)
        assert customer.credit_limit == Decimal("1.5") and customer.tags == ["x"]
        assert session.scalars(select(AuditEvent)).one().occurred_at == datetime(
            2026, 1, 2, 3, 4, 5, tzinfo=UTC
        )
        usage = session.scalars(select(UsageRecord).order_by(UsageRecord.usage_date)).all()
        assert len(usage) == 11 and usage[0].usage_date == date(2026, 1, 1)


def test_rare_conflicts_take_the_direct_path_and_fall_back_when_a_key_exists(engine):
    with session_scope(engine) as session:
        session.add(
            Customer(
                provider_customer_id="t9", name="B", currency="EUR", payment_terms_days=30,
                tags=[], created_on=date(2026, 1, 1),
            )
        )  # fmt: skip
    with session_scope(engine) as session:
        customer_id = session.scalars(select(Customer.id)).one()
    columns = ["customer_id", "provider_subscription_id", "usage_date", "meter_id", "quantity",
               "currency", "amount_micros", "row_hash"]  # fmt: skip
    rows = [(customer_id, "s", date(2026, 1, d), "m", 1.0, "EUR", 10, d) for d in range(1, 6)]

    def insert(batch):
        return bulk_insert(
            connection, UsageRecord.__table__, columns, batch,
            ignore_conflicts_on="row_hash", conflicts_rare=True,
        )  # fmt: skip

    with engine.begin() as connection:
        assert insert(rows[:3]) == 3  # all new: straight in
        # One key exists: the direct attempt is undone and only the new rows go in, in the
        # same transaction, which stays usable.
        assert insert(rows[2:]) == 2
        assert insert(rows) == 0
    with session_scope(engine) as session:
        hashes = session.scalars(select(UsageRecord.row_hash).order_by(UsageRecord.row_hash))
        assert list(hashes) == [1, 2, 3, 4, 5]
