"""`sync_book` against the sandbox over a real socket, into a book on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from riskdesk.db.engine import make_engine, migrate, session_scope
from riskdesk.db.models import (
    AuditEvent,
    Customer,
    ProviderFraudEvent,
    Subscription,
    UsageRecord,
)
from riskdesk.demo import build_demo_book
from riskdesk.demo.sandbox_seed import seed_sandbox_state
from riskdesk.imports import ImportFileError
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.errors import ProviderError
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import Faults, SandboxState, UsageRow, sample_state, start_sandbox
from riskdesk.providers.sync import sync_book


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory):
    """A sandbox state seeded from a small demo book (with its planted fraud)."""
    directory = tmp_path_factory.mktemp("demo")
    engine = make_engine(f"sqlite:///{directory / 'demo.db'}")
    migrate(engine)
    truth = directory / "truth.json"
    build_demo_book(engine, customers=20, months=3, as_of=date(2026, 6, 15), truth_path=truth)
    state = seed_sandbox_state(engine, truth_path=truth)
    engine.dispose()
    return state


def client(sandbox) -> PartnerCenter:
    return PartnerCenter(StaticToken(sandbox.token), base_url=sandbox.base_url, backoff_base=0.01)


def counts(engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Customer, Subscription, UsageRecord, ProviderFraudEvent)
        }


def sandbox_counts(state: SandboxState) -> dict[str, int]:
    return {
        "customers": len(state.customers),
        "subscriptions": sum(len(s) for s in state.subscriptions.values()),
        "usage_records": len(state.usage),
        "provider_fraud_events": len(state.fraud_events),
    }


@pytest.mark.slow
def test_a_sync_through_throttling_and_errors_loses_and_doubles_nothing(engine, demo_state):
    faults = Faults(throttle_rate=0.3, error_rate=0.1, seed=5)
    with start_sandbox(demo_state, faults=faults) as sandbox:
        report = sync_book(engine, client(sandbox))
        assert counts(engine) == sandbox_counts(demo_state)
        assert report.customers_new == len(demo_state.customers)
        assert report.usage_inserted == len(demo_state.usage) and report.differences == []
        again = sync_book(engine, client(sandbox))
    assert counts(engine) == sandbox_counts(demo_state)
    assert (again.customers_new, again.subscriptions_new, again.usage_inserted) == (0, 0, 0)
    assert again.invoices_synced == 0  # billed usage is read once per invoice
    with session_scope(engine) as session:
        suspended_at_provider = session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.provider_status == "suspended")
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "sync.completed")
            )
            == 2
        )
    expected = sum(
        1
        for subs in demo_state.subscriptions.values()
        for s in subs.values()
        if s.status == "suspended"
    )
    assert suspended_at_provider == expected


def test_a_status_changed_at_the_provider_is_reported_not_overwritten(engine):
    state = sample_state(seed=2)
    with start_sandbox(state) as sandbox:
        provider = client(sandbox)
        sync_book(engine, provider)
        customer_id, subs = next((c, s) for c, s in state.subscriptions.items() if s)
        subscription_id = next(sid for sid, s in subs.items() if s.status == "active")
        provider.set_subscription_status(customer_id, subscription_id, "suspended")

        report = sync_book(engine, provider)
        [difference] = report.differences
        assert (difference.kind, difference.subject) == ("subscription_status", subscription_id)
        assert (difference.book, difference.provider, difference.adopted) == (
            "active",
            "suspended",
            False,
        )
        with session_scope(engine) as session:
            sub = session.scalars(
                select(Subscription).where(Subscription.provider_subscription_id == subscription_id)
            ).one()
            assert sub.provider_status == "active"
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "sync.difference")
            ).one()
            assert event.data["provider"] == "suspended"

        adopted = sync_book(engine, provider, adopt_provider_status=True)
        assert [d.adopted for d in adopted.differences] == [True]
        with session_scope(engine) as session:
            sub = session.scalars(
                select(Subscription).where(Subscription.provider_subscription_id == subscription_id)
            ).one()
            assert sub.provider_status == "suspended"
        assert sync_book(engine, provider).differences == []


def test_bad_provider_data_writes_nothing(engine):
    state = sample_state(seed=3)
    stranger = UsageRow(
        "00000000-dead-beef-0000-000000000000",
        "plan",
        None,
        "2026-06-01",
        "meter",
        None,
        None,
        None,
        "1",
        None,
        "EUR",
        "1.00",
        None,
    )
    state.add_usage([stranger])
    with start_sandbox(state) as sandbox, pytest.raises(ImportFileError, match="unknown customer"):
        sync_book(engine, client(sandbox))
    assert set(counts(engine).values()) == {0}


def test_an_unreachable_provider_fails_before_writing(engine):
    dead = PartnerCenter(
        StaticToken("t"), base_url="http://127.0.0.1:9", max_attempts=2, backoff_base=0.01
    )
    with pytest.raises(ProviderError, match="list_customers"):
        sync_book(engine, dead)
    assert set(counts(engine).values()) == {0}


def test_syncing_the_demo_book_from_its_own_sandbox_changes_nothing(database_url, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    truth = tmp_path / "truth.json"
    build_demo_book(engine, customers=25, months=3, as_of=date(2026, 6, 15), truth_path=truth)
    before = counts(engine)
    state = seed_sandbox_state(engine, truth_path=truth)
    with start_sandbox(state) as sandbox:
        report = sync_book(engine, client(sandbox))
    after = counts(engine)
    engine.dispose()
    assert (report.customers_new, report.subscriptions_new, report.usage_inserted) == (0, 0, 0)
    assert report.usage_duplicate == report.usage_read == before["usage_records"]
    assert report.differences == []
    assert after == {**before, "provider_fraud_events": len(state.fraud_events)}
