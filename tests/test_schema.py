from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from riskdesk.db.engine import migrate, schema_is_current, session_scope
from riskdesk.db.models import AuditEvent, Base, Customer, Invoice


def test_migrations_match_models_and_rerun_is_harmless(engine):
    migrate(engine)  # second time: nothing to do
    assert schema_is_current(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _customer(**overrides):
    values = dict(
        provider_customer_id="tenant-1",
        name="Contoso",
        currency="EUR",
        payment_terms_days=30,
        tags=["vip"],
        created_on=date(2026, 1, 5),
    )
    values.update(overrides)
    return Customer(**values)


def test_money_round_trips_exactly_and_times_stay_utc(engine):
    amount = Decimal("12345678.123456")
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    with session_scope(engine) as session:
        customer = _customer(credit_limit=amount)
        session.add(customer)
        session.flush()
        session.add(
            Invoice(
                customer_id=customer.id,
                number="INV-1",
                issued_on=date(2026, 3, 1),
                due_on=date(2026, 3, 31),
                currency="EUR",
                total=Decimal("0.10"),
            )
        )
        session.add(
            AuditEvent(
                occurred_at=moment,
                actor="t",
                action="x",
                subject_type="customer",
                data={},
                prev_hash="0",
                hash="1",
            )
        )
    with session_scope(engine) as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.credit_limit == amount
        assert customer.tags == ["vip"]
        assert session.scalars(select(Invoice)).one().total == Decimal("0.10")
        stored = session.scalars(select(AuditEvent)).one().occurred_at
        assert stored == moment and stored.tzinfo is not None
        assert stored.utcoffset() == timedelta(0) and stored.tzinfo == UTC


def test_naive_datetimes_are_refused(engine):
    with (
        pytest.raises(StatementError, match="naive datetime"),
        session_scope(engine) as session,
    ):
        session.add(
            AuditEvent(
                occurred_at=datetime(2026, 1, 1),
                actor="t",
                action="x",
                subject_type="c",
                data={},
                prev_hash="0",
                hash="1",
            )
        )


def test_duplicate_provider_customer_is_refused(engine):
    with session_scope(engine) as session:
        session.add(_customer())
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(_customer(name="Other"))


def test_migrations_downgrade_to_nothing_and_up_again(engine):
    from alembic import command
    from sqlalchemy import inspect

    from riskdesk.db.engine import _alembic_config

    config = _alembic_config(engine)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert schema_is_current(engine)
    assert {"customers", "provider_fraud_events", "sync_state"} <= set(
        inspect(engine).get_table_names()
    )
