"""End to end: the Partner Center client against the sandbox server, over a real socket."""

from __future__ import annotations

import httpx
import pytest

from riskdesk.providers.auth import StaticToken
from riskdesk.providers.errors import PermanentProviderError
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.settings import ProviderSettings, build_provider

sandbox_server = pytest.importorskip(
    "riskdesk.providers.sandbox.server", reason="the sandbox server is not available yet"
)
from riskdesk.providers.sandbox.faults import Faults  # noqa: E402
from riskdesk.providers.sandbox.sample import sample_state  # noqa: E402
from riskdesk.providers.sandbox.state import SandboxState  # noqa: E402


@pytest.fixture
def state():
    return sample_state(seed=1)


@pytest.fixture
def sandbox(state):
    with sandbox_server.start_sandbox(state) as running:
        yield running


@pytest.fixture
def client(sandbox):
    pc = PartnerCenter(
        StaticToken(sandbox.token),
        base_url=sandbox.base_url,
        page_size=2,
        usage_page_size=50,
        sleep=lambda s: None,
    )
    yield pc
    pc.close()


def _find(state: SandboxState, status: str) -> tuple[str, str]:
    for customer_id, subs in state.subscriptions.items():
        for sub in subs.values():
            if sub.status == status:
                return customer_id, sub.id
    raise AssertionError(f"the sample state has no {status} subscription")


def test_factory_builds_a_client_for_the_sandbox(sandbox, state):
    provider = build_provider(
        ProviderSettings(kind="sandbox", base_url=sandbox.base_url, sandbox_token=sandbox.token)
    )
    assert {c.id for c in provider.list_customers()} == {c.id for c in state.customer_list()}


def test_customers_across_several_pages(sandbox, state):
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    pc = PartnerCenter(
        StaticToken(sandbox.token), base_url=sandbox.base_url, client=http, page_size=2
    )
    customers = list(pc.list_customers())
    http.close()
    assert [c.id for c in customers] == [c.id for c in state.customer_list()]
    assert len(sent) == -(-len(customers) // 2) >= 3  # pages of two
    assert all("MS-ContinuationToken" in r.headers for r in sent[1:])
    assert len({r.headers["MS-CorrelationId"] for r in sent}) == 1


def test_subscriptions_of_a_customer(client, state):
    customer_id, sub_id = _find(state, "active")
    subs = {s.id: s for s in client.list_subscriptions(customer_id)}
    assert sub_id in subs
    assert set(subs) == set(state.subscriptions[customer_id])


def test_suspend_then_reactivate(client, state):
    customer_id, sub_id = _find(state, "active")
    suspended = client.set_subscription_status(customer_id, sub_id, "suspended")
    assert suspended.status == "suspended"
    assert state.subscription(customer_id, sub_id).status == "suspended"
    assert client.get_subscription(customer_id, sub_id).status == "suspended"
    active = client.set_subscription_status(customer_id, sub_id, "active")
    assert active.status == "active"
    assert state.subscription(customer_id, sub_id).status == "active"


def test_suspend_is_a_noop_when_already_suspended(client, state):
    customer_id, sub_id = _find(state, "suspended")
    before = state.subscription(customer_id, sub_id).model_dump()
    result = client.set_subscription_status(customer_id, sub_id, "suspended")
    assert result.status == "suspended"
    assert state.subscription(customer_id, sub_id).model_dump() == before  # nothing written


def test_service_request_created_listed_and_read_back(client):
    topics = list(client.list_support_topics())
    assert topics
    created = client.create_service_request(
        "Suspected crypto mining", "GPU usage spike on plan X", "critical", str(topics[0].id)
    )
    assert created.id and created.status == "open"
    assert created.id in {sr.id for sr in client.list_service_requests()}
    again = client.get_service_request(created.id)
    assert (again.title, again.severity) == ("Suspected crypto mining", "critical")


def test_fraud_events_by_status(client, state):
    for status in ("Active", "Investigating", "Resolved"):
        events = list(client.list_fraud_events(status=status))
        expected = {e.event_id for e in state.fraud_events.values() if e.event_status == status}
        assert {e.event_id for e in events} == expected
        assert all(e.event_status == status for e in events)
    assert len(list(client.list_fraud_events())) == len(state.fraud_events)


def test_fraud_event_status_update(client, state):
    event = next(e for e in state.fraud_events.values() if e.event_status == "Active")
    updated = client.update_fraud_events(event.subscription_id, [event.event_id], "Investigating")
    assert [e.event_id for e in updated] == [event.event_id]
    assert state.fraud_events[event.event_id].event_status == "Investigating"


def test_usage_pages_add_up(client, sandbox):
    big = PartnerCenter(StaticToken(sandbox.token), base_url=sandbox.base_url)
    for currency in ("USD", "EUR"):
        small_pages = list(client.list_usage(currency))
        one_page = list(big.list_usage(currency))
        assert len(small_pages) == len(one_page)
        assert [u.model_dump() for u in small_pages] == [u.model_dump() for u in one_page]
    big.close()


def test_survives_injected_throttling_and_errors(state):
    faults = Faults(throttle_rate=0.3, error_rate=0.2, seed=7)
    with sandbox_server.start_sandbox(state, faults=faults) as running:
        pc = PartnerCenter(
            StaticToken(running.token),
            base_url=running.base_url,
            page_size=2,
            max_attempts=10,
            sleep=lambda s: None,
        )
        assert len(list(pc.list_customers())) == len(state.customer_list())
        pc.close()


def test_wrong_token_and_unknown_subscription_are_permanent(sandbox, client, state):
    bad = PartnerCenter(StaticToken("not-the-token"), base_url=sandbox.base_url)
    with pytest.raises(PermanentProviderError) as info:
        list(bad.list_customers())
    assert info.value.status == 401
    customer_id, _ = _find(state, "active")
    with pytest.raises(PermanentProviderError) as info:
        client.get_subscription(customer_id, "00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404
