"""The sandbox's faults, persistence and seeding from a demo book, over a real socket."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from riskdesk.db.engine import make_engine, migrate
from riskdesk.db.models import Customer, Subscription, UsageRecord
from riskdesk.demo import build_demo_book
from riskdesk.demo.sandbox_seed import seed_sandbox_state
from riskdesk.providers.sandbox import (
    Faults,
    SandboxState,
    SandboxStateError,
    sample_state,
    start_sandbox,
)
from riskdesk.providers.sandbox.faults import Fault
from sandbox_helpers import all_pages, auth


def subscription_url(server, state: SandboxState, status: str = "active") -> str:
    for customer_id, subscriptions in state.subscriptions.items():
        for subscription in subscriptions.values():
            if subscription.status == status:
                return (
                    f"{server.base_url}/v1/customers/{customer_id}/subscriptions/{subscription.id}"
                )
    raise AssertionError(f"no {status} subscription")


# ---------------------------------------------------------------------- faults


def test_throttle_rate_one_answers_every_call_429_with_retry_after():
    state = sample_state(seed=2)
    with start_sandbox(state, faults=Faults(throttle_rate=1.0, seed=1)) as server:
        url = subscription_url(server, state)
        with httpx.Client(headers=auth(server.token)) as client:
            before = state.to_document()
            responses = [
                client.get(server.base_url + "/v1/customers"),
                client.get(url),
                client.patch(url, json={"id": "x", "status": "suspended"}),
                client.get(server.base_url + "/v1/fraudEvents"),
                client.post(server.base_url + "/v1/servicerequests/en-US", json={}),
            ]
            for response in responses:
                assert response.status_code == 429
                assert response.headers["content-type"].startswith("application/json")
                assert 0 <= int(response.headers["Retry-After"]) <= 1
                body = response.json()
                assert body["statusCode"] == 429 and body["message"]
                assert set(body) == {"statusCode", "message"}
            assert state.to_document() == before


def test_error_rate_one_fails_a_patch_with_5xx_and_changes_nothing():
    state = sample_state(seed=2)
    faults = Faults(error_rate=1.0, seed=5)
    with start_sandbox(state, faults=faults) as server:
        url = subscription_url(server, state)
        customer_id, subscription_id = url.split("/customers/")[1].split("/subscriptions/")
        resource = state.subscription(customer_id, subscription_id)
        body = dict(resource.to_wire(), status="suspended")
        before = state.to_document()
        statuses = set()
        with httpx.Client(headers=auth(server.token)) as client:
            for _ in range(6):
                response = client.patch(url, json=body)
                statuses.add(response.status_code)
                error = response.json()
                assert error["code"] and error["description"]
        assert statuses <= {500, 503} and statuses
        assert state.to_document() == before
        assert state.subscription(customer_id, subscription_id).status == "active"
        # Faults off: the same PATCH goes through (a retry after a 5xx is safe).
        faults.error_rate = 0.0
        with httpx.Client(headers=auth(server.token)) as client:
            assert client.patch(url, json=body).json()["status"] == "suspended"


def test_faults_are_deterministic_with_a_seed_and_add_latency():
    one = Faults(throttle_rate=0.3, error_rate=0.3, seed=42)
    two = Faults(throttle_rate=0.3, error_rate=0.3, seed=42)
    first = [one.draw() for _ in range(200)]
    assert first == [two.draw() for _ in range(200)]
    kinds = {f.kind for f in first}
    assert kinds == {"throttle", "error", "none"}
    assert Faults().draw() == Fault("none")
    with pytest.raises(ValueError):
        Faults(throttle_rate=1.5)
    import time

    with start_sandbox(sample_state(), faults=Faults(latency_ms=150)) as server:
        started = time.monotonic()
        response = httpx.get(server.base_url + "/v1/customers", headers=auth(server.token))
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.15


# ---------------------------------------------------------------------- persistence


def test_state_file_persists_across_a_restart(tmp_path):
    path = tmp_path / "sandbox-state.json"
    state = sample_state(seed=3, path=path)
    state.save()
    with start_sandbox(state) as server:
        url = subscription_url(server, state)
        with httpx.Client(headers=auth(server.token)) as client:
            current = client.get(url).json()
            suspended = client.patch(url, json=dict(current, status="suspended")).json()
            topic = client.get(server.base_url + "/v1/servicerequests/supporttopics").json()
            created = client.post(
                server.base_url + "/v1/servicerequests/en-US",
                json={"title": "t", "description": "d", "severity": "moderate",
                      "supportTopicId": topic["items"][0]["id"]},
            ).json()  # fmt: skip
    assert not list(tmp_path.glob(".sandbox-state.json.*")), "temp files left behind"

    reloaded = SandboxState.load(path)
    assert reloaded.to_document() == state.to_document()
    with start_sandbox(reloaded) as server, httpx.Client(headers=auth(server.token)) as client:
        again = client.get(url.replace(url.split("/v1/")[0], server.base_url)).json()
        assert again["status"] == "suspended"
        assert again["attributes"]["etag"] == suspended["attributes"]["etag"]
        fetched = client.get(f"{server.base_url}/v1/servicerequests/{created['id']}")
        assert fetched.json() == created
        usage = all_pages(
            client,
            server.base_url,
            "/v1/invoices/unbilled/lineitems",
            {"provider": "onetime", "invoicelineitemtype": "usagelineitems",
             "currencycode": "USD", "period": "current"},
        )  # fmt: skip
        assert sum(len(p["items"]) for p in usage) == sum(
            1 for r in state.usage if r.currency == "USD" and r.invoice_number is None
        )


def test_a_bad_state_file_is_one_clear_error(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(SandboxStateError, match="state.json"):
        SandboxState.load(path)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(SandboxStateError, match="not a sandbox state"):
        SandboxState.load(path)


# ---------------------------------------------------------------------- seeding from a book


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    where = tmp_path_factory.mktemp("sandbox-book")
    engine = make_engine(f"sqlite:///{where / 'book.db'}")
    migrate(engine)
    truth = where / "truth.json"
    build_demo_book(engine, customers=30, months=3, as_of=date(2026, 6, 15), truth_path=truth)
    yield engine, truth
    engine.dispose()


def test_seeding_from_a_demo_book(demo_book):
    engine, truth_path = demo_book
    with engine.connect() as connection:
        customers = connection.scalar(select(func.count()).select_from(Customer))
        subscriptions = connection.scalar(select(func.count()).select_from(Subscription))
        usage = connection.scalar(select(func.count()).select_from(UsageRecord))
        statuses = dict(
            connection.execute(
                select(Subscription.provider_subscription_id, Subscription.provider_status)
            ).all()
        )
        currencies = [c for (c,) in connection.execute(select(UsageRecord.currency).distinct())]
        invoices = {
            n for (n,) in connection.execute(select(UsageRecord.invoice_number).distinct()) if n
        }
    truth = json.loads(truth_path.read_text())
    bursts = [r for r in truth["records"] if r["behaviour"] == "gpu_burst"]
    assert bursts, "the demo plants GPU bursts from 20 customers on"

    state = seed_sandbox_state(engine, truth_path=truth_path)
    with start_sandbox(state) as server, httpx.Client(headers=auth(server.token)) as client:
        base = server.base_url
        listed = [c for p in all_pages(client, base, "/v1/customers", {"size": 7})
                  for c in p["items"]]  # fmt: skip
        assert len(listed) == customers == len({c["id"] for c in listed})
        seen_subscriptions = {}
        for customer in listed:
            for page in all_pages(client, base, f"/v1/customers/{customer['id']}/subscriptions"):
                seen_subscriptions.update({s["id"]: s["status"] for s in page["items"]})
        assert len(seen_subscriptions) == subscriptions
        assert seen_subscriptions == statuses

        lines = 0
        for currency in currencies:
            params = {"provider": "onetime", "invoicelineitemtype": "usagelineitems",
                      "currencycode": currency, "period": "current", "size": 2000}  # fmt: skip
            pages = all_pages(client, base, "/v1/invoices/unbilled/lineitems", params)
            lines += sum(len(p["items"]) for p in pages)
        billed = {i["id"]: i for p in all_pages(client, base, "/v1/invoices") for i in p["items"]}
        assert set(billed) == invoices
        for invoice in billed.values():
            params = {"provider": "onetime", "invoicelineitemtype": "usagelineitems",
                      "currencycode": invoice["currencyCode"], "size": 2000}  # fmt: skip
            pages = all_pages(client, base, f"/v1/invoices/{invoice['id']}/lineitems", params)
            lines += sum(len(p["items"]) for p in pages)
        assert lines == usage

        events = [e for p in all_pages(client, base, "/v1/fraudEvents", {"EventStatus": "Active"})
                  for e in p["items"]]  # fmt: skip
        by_customer = {e["customerTenantId"] for e in events}
        assert {r["customer"] for r in bursts} <= by_customer
        planted = [r for r in truth["records"] if r["behaviour"] in ("gpu_burst", "signup_fraud")]
        assert len(events) == len(planted)
        # The event names the Azure subscription (entitlement) that ran the GPU meter.
        for record in bursts:
            event = next(e for e in events if e["customerTenantId"] == record["customer"])
            with engine.connect() as connection:
                entitlements = {
                    e
                    for (e,) in connection.execute(
                        select(UsageRecord.entitlement_id).where(
                            UsageRecord.provider_subscription_id == record["subscription"],
                            UsageRecord.meter_id == record["details"]["meter_id"],
                        )
                    )
                }
            assert event["subscriptionId"] in entitlements
            assert event["firstOccurrence"].startswith(record["start"])


def test_sandbox_command_seeds_its_state_from_the_book(demo_book, tmp_path):
    """`riskdesk sandbox --seed-from-book --truth` (the demo's seeding, handed to `serve`)."""
    engine, truth_path = demo_book
    url = engine.url.render_as_string(hide_password=False)
    state_file = tmp_path / "seeded.json"
    command = [sys.executable, "-m", "riskdesk", "--database-url", url, "sandbox", "--port", "0"]
    command += ["--state", str(state_file), "--seed-from-book", "--truth", str(truth_path)]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        assert line.startswith("sandbox: http://127.0.0.1:"), line + server.stderr.read()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    seeded = SandboxState.load(state_file)
    expected = seed_sandbox_state(engine, truth_path=truth_path)
    assert set(seeded.customers) == set(expected.customers) and seeded.customers
    assert len(seeded.usage) == len(expected.usage) > 0
    truth = json.loads(truth_path.read_text())
    planted = [r for r in truth["records"] if r["behaviour"] in ("gpu_burst", "signup_fraud")]
    assert len(seeded.fraud_events) == len(planted) > 0


def test_sample_state_has_what_tests_need():
    state = sample_state(seed=9)
    assert len(state.customers) >= 5
    statuses = {s.status for subs in state.subscriptions.values() for s in subs.values()}
    assert {"active", "suspended", "deleted"} <= statuses
    assert {e.event_status for e in state.fraud_events.values()} == {
        "Active", "Investigating", "Resolved"
    }  # fmt: skip
    assert len(state.usage) > 200 and state.invoices()
    assert sample_state(seed=9).to_document()["usage"] == state.to_document()["usage"]
