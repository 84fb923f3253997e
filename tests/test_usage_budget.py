"""A customer's usage spending budget: the documented body accepted by the sandbox, the
client reading and setting it, the sync keeping it with the customer, the use cases; on
SQLite and PostgreSQL, over a real socket."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from provider_features import client, synced_book
from riskdesk.app import budgets as uc
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Customer
from riskdesk.errors import InvalidInputError
from riskdesk.money import Money
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.errors import NotOfferedError
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import Faults, SandboxState, sample_state, start_sandbox
from riskdesk.providers.sync import sync_book
from sandbox_helpers import auth

# update-a-customer-s-usage-spending-budget: the documented request body, as printed.
DOCUMENTED_PATCH = {"Amount": 100, "Attributes": {"ObjectType": "SpendingBudget"}}


def test_the_sandbox_accepts_the_documented_body_and_answers_the_documented_shape():
    state = sample_state(seed=3)
    tenant = state.customer_list()[2].id
    with start_sandbox(state) as sandbox, httpx.Client(headers=auth(sandbox.token)) as http:
        url = f"{sandbox.base_url}/v1/customers/{tenant}/usagebudget"
        assert http.get(url).json()["amount"] is None  # none set yet
        answer = http.patch(url, json=DOCUMENTED_PATCH)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["amount"] == 100 and body["usageSpendingBudget"] == 100
        assert body["attributes"] == {"objectType": "SpendingBudget"}
        assert body["links"]["self"]["uri"] == f"/v1/customers/{tenant}/usagebudget"
        assert http.get(url).json()["amount"] == 100
        refused = http.patch(url, json={"Attributes": {"ObjectType": "SpendingBudget"}})
        assert refused.status_code == 400 and "Amount" in refused.json()["description"]
        assert http.patch(url, json={"Amount": -1}).status_code == 400
        unknown = http.get(f"{sandbox.base_url}/v1/customers/nobody/usagebudget")
        assert unknown.status_code == 404


def test_the_client_sends_the_documented_pascal_case_body():
    state = sample_state(seed=3)
    tenant = state.customer_list()[2].id
    seen: list[httpx.Request] = []
    with start_sandbox(state) as sandbox:
        hooks = {"request": [seen.append]}
        with httpx.Client(event_hooks=hooks) as http:
            pc = PartnerCenter(StaticToken(sandbox.token), base_url=sandbox.base_url, client=http)
            answer = pc.update_usage_budget(tenant, Decimal("250.50"))
    assert answer.amount == Decimal("250.50")
    assert seen[-1].method == "PATCH"
    assert json.loads(seen[-1].content) == {
        "Amount": 250.5,
        "Attributes": {"ObjectType": "SpendingBudget"},
    }
    assert state.budgets[tenant].amount == Decimal("250.50")


def test_sync_keeps_the_budget_with_the_customer_and_follows_a_change(engine, database_url):
    with synced_book(engine, database_url) as (deps, state, sandbox):
        contoso = state.customer_list()[0].id
        with session_scope(engine) as session:
            row = session.scalars(
                select(Customer).where(Customer.provider_customer_id == contoso)
            ).one()
            assert row.usage_budget_money == Money("500", "EUR")
            assert row.usage_budget_synced_at is not None
        client(sandbox).update_usage_budget(contoso, Decimal("750"))  # changed at the provider
        report = sync_book(engine, client(sandbox))
        assert report.budgets_changed == 1 and report.budgets_read >= 1
        again = sync_book(engine, client(sandbox))
        assert again.budgets_changed == 0
        view = uc.show_budget(deps, contoso)
        assert view.budget == Money("750", "EUR")
        with session_scope(engine) as session:
            audited = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "customer.usage_budget_synced")
            ).all()
        assert [(a.data["old"], a.data["new"]) for a in audited][-1] == ("500.00", "750.00")


def test_setting_a_budget_goes_to_the_provider_and_is_kept_and_audited(engine, database_url):
    with synced_book(engine, database_url) as (deps, state, _sandbox):
        northwind = state.customer_list()[2]
        view = uc.set_budget(deps, northwind.id, "1200.00", actor="j.doe")
        assert view.budget == Money("1200", "USD")
        assert state.budgets[northwind.id].amount == Decimal("1200")
        live = uc.show_budget(deps, northwind.id, at_provider=True)
        assert live.at_provider == Money("1200", "USD") and not live.differs
        with pytest.raises(InvalidInputError, match="negative"):
            uc.set_budget(deps, northwind.id, "-5", actor="j.doe")
        with pytest.raises(InvalidInputError, match="finer|minor|cent|decimal"):
            uc.set_budget(deps, northwind.id, "10.001", actor="j.doe")
        removed = uc.set_budget(deps, northwind.id, None, actor="j.doe")
        assert removed.budget is None and state.budgets[northwind.id].amount is None
        with session_scope(engine) as session:
            audited = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "customer.usage_budget_set")
            ).all()
        assert [(a.actor, a.data["new"]) for a in audited] == [
            ("j.doe", "1200.00"),
            ("j.doe", None),
        ]


def test_on_21vianet_budgets_are_not_asked_for_and_the_reason_is_given(engine, database_url):
    with synced_book(engine, database_url, cloud="china") as (deps, state, _sandbox):
        contoso = state.customer_list()[0].id
        with session_scope(engine) as session:
            row = session.scalars(
                select(Customer).where(Customer.provider_customer_id == contoso)
            ).one()
            assert row.usage_budget is None  # never read there
        with pytest.raises(NotOfferedError, match="21Vianet.*budget.*global and US Government"):
            uc.set_budget(deps, contoso, "10", actor="j.doe")
        assert state.budgets[contoso].amount == Decimal(500)  # nothing sent


@pytest.mark.slow
def test_budgets_sync_through_throttling_and_errors(engine, database_url):
    faults = Faults(throttle_rate=0.3, error_rate=0.1, seed=11)
    with synced_book(engine, database_url, faults=faults) as (deps, state, _sandbox):
        assert uc.show_budget(deps, state.customer_list()[0].id).budget == Money("500", "EUR")


def test_a_budget_set_through_the_sandbox_survives_its_state_file(tmp_path):
    path = tmp_path / "sandbox.json"
    state = sample_state(seed=3, path=path)
    state.save()
    tenant = state.customer_list()[3].id
    with start_sandbox(state) as sandbox:
        client(sandbox).update_usage_budget(tenant, Decimal("42.50"))
    again = SandboxState.load(path)
    assert again.budgets[tenant].amount == Decimal("42.50")
    assert again.service_request_customers == state.service_request_customers
