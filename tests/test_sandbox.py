"""The sandbox's Partner Center API over a real socket: paging, auth, PATCH, errors."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import httpx
import pytest

from riskdesk.providers.records import (
    Customer,
    DailyRatedUsageLineItem,
    ErrorBody,
    FraudEvent,
    ServiceRequest,
    Subscription,
)
from riskdesk.providers.sandbox import SandboxState, sample_state, start_sandbox
from sandbox_helpers import all_pages, auth

USAGE = "/v1/invoices/unbilled/lineitems"


def usage_params(currency: str, size: int) -> dict[str, object]:
    return {
        "provider": "onetime",
        "invoicelineitemtype": "usagelineitems",
        "currencycode": currency,
        "period": "current",
        "size": size,
    }


@pytest.fixture
def sandbox():
    state = sample_state(seed=1)
    with start_sandbox(state) as server:
        yield server


@pytest.fixture
def client(sandbox):
    with httpx.Client(headers=auth(sandbox.token), timeout=10) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] and body["description"], body
    ErrorBody.model_validate(body)
    return body


def a_subscription(state: SandboxState, status: str) -> tuple[str, Subscription]:
    for customer_id, subscriptions in state.subscriptions.items():
        for subscription in subscriptions.values():
            if subscription.status == status:
                return customer_id, subscription
    raise AssertionError(f"no {status} subscription in the sample")


# ---------------------------------------------------------------------- paging


def test_customers_page_through_every_item_exactly_once(sandbox, client):
    pages = all_pages(client, sandbox.base_url, "/v1/customers", {"size": 2})
    assert len(pages) >= 3
    ids = [item["id"] for page in pages for item in page["items"]]
    assert Counter(ids) == Counter(list(sandbox.state.customers))
    for page in pages:
        assert page["totalCount"] == len(page["items"])
        for item in page["items"]:
            Customer.model_validate(item)


def test_usage_pages_carry_every_line_once_with_exact_amounts(sandbox, client):
    state = sandbox.state
    expected = [r for r in state.usage if r.invoice_number is None and r.currency == "EUR"]
    assert len(expected) > 50
    pages = all_pages(client, sandbox.base_url, USAGE, usage_params("EUR", 40))
    assert len(pages) == -(-len(expected) // 40)
    items = [item for page in pages for item in page["items"]]
    assert len(items) == len(expected)
    keys = Counter((i["subscriptionId"], i["meterId"], i["usageDate"][:10]) for i in items)
    assert keys == Counter((r.subscription_id, r.meter_id, r.usage_date) for r in expected)
    # Amounts are JSON numbers, exact when read as Decimal.
    raw = client.get(sandbox.base_url + USAGE, params=usage_params("EUR", 5))
    first = json.loads(raw.text, parse_float=Decimal)["items"][0]
    assert isinstance(first["billingPreTaxTotal"], Decimal)
    row = expected[0]
    assert first["billingPreTaxTotal"] == Decimal(row.amount)
    line = DailyRatedUsageLineItem.model_validate(first)
    assert line.billing_currency == "EUR" and line.invoice_number == ""


def test_billed_invoice_lines_page_by_invoice(sandbox, client):
    invoices = all_pages(client, sandbox.base_url, "/v1/invoices")[0]["items"]
    assert {i["id"] for i in invoices} == set(sandbox.state.invoices())
    invoice = next(i for i in invoices if i["currencyCode"] == "USD")
    params = {"provider": "onetime", "invoicelineitemtype": "usagelineitems",
              "currencycode": "USD", "size": 25}  # fmt: skip
    pages = all_pages(client, sandbox.base_url, f"/v1/invoices/{invoice['id']}/lineitems", params)
    items = [item for page in pages for item in page["items"]]
    expected = [r for r in sandbox.state.usage if r.invoice_number == invoice["id"]]
    assert len(pages) > 1 and len(items) == len(expected)
    assert {i["invoiceNumber"] for i in items} == {invoice["id"]}
    missing = client.get(sandbox.base_url + "/v1/invoices/G999/lineitems", params=params)
    assert_error(missing, 404)


def test_continuation_token_of_another_query_is_refused(sandbox, client):
    first = client.get(sandbox.base_url + USAGE, params=usage_params("EUR", 10)).json()
    token = first["links"]["next"]["headers"][0]["value"]
    other = client.get(
        sandbox.base_url + USAGE,
        params={**usage_params("USD", 10), "seekOperation": "Next"},
        headers={"MS-ContinuationToken": token},
    )
    assert_error(other, 400)
    no_token = client.get(sandbox.base_url + "/v1/customers?size=2&seekOperation=Next")
    assert_error(no_token, 400)


def test_fraud_events_filter_and_page(sandbox, client):
    listed = client.get(sandbox.base_url + "/v1/fraudEvents")
    every = listed.json()
    assert isinstance(every, list)  # a bare JSON array, as documented
    assert Counter(e["eventId"] for e in every) == Counter(list(sandbox.state.fraud_events))
    assert all(isinstance(e["hitCount"], str) and e["subscriptionType"] == "modern" for e in every)
    assert not any("eventType" in e or "severity" in e for e in every)  # classic model
    for status in ("Active", "Investigating", "Resolved"):
        body = client.get(sandbox.base_url + "/v1/fraudEvents", params={"EventStatus": status})
        events = [FraudEvent.model_validate(e) for e in body.json()]
        assert events and {e.event_status for e in events} == {status}
    one = every[0]["subscriptionId"]
    body = client.get(sandbox.base_url + "/v1/fraudEvents", params={"SubscriptionId": one})
    assert {e["subscriptionId"] for e in body.json()} == {one}
    bad = client.get(sandbox.base_url + "/v1/fraudEvents", params={"EventStatus": "Open"})
    assert_error(bad, 400)
    # the new event model: its fields, and PageSize/PageNumber paging
    new = {"X-NewEventsModel": "true"}
    paged = [
        client.get(
            sandbox.base_url + "/v1/fraudEvents",
            params={"PageSize": 2, "PageNumber": n},
            headers=new,
        ).json()
        for n in range(1, len(every) // 2 + 2)
    ]
    assert [e["eventId"] for p in paged for e in p] == [e["eventId"] for e in every]
    assert all("eventType" in e and "severity" in e for p in paged for e in p)


def test_fraud_event_status_update(sandbox, client):
    active = client.get(sandbox.base_url + "/v1/fraudEvents?EventStatus=Active").json()
    event = active[0]
    url = f"{sandbox.base_url}/v1/fraudEvents/subscription/{event['subscriptionId']}/status"
    response = client.post(
        url,
        json={"eventIds": [event["eventId"]], "eventStatus": "Resolved", "resolvedReason": "Fraud"},
    )
    assert response.status_code == 200, response.text
    (updated,) = response.json()  # a bare array of the updated events, as documented
    assert updated["eventStatus"] == "Resolved" and updated["resolvedReason"] == "Fraud"
    assert sandbox.state.fraud_events[event["eventId"]].event_status == "Resolved"
    assert_error(client.post(url, json={"eventIds": [], "eventStatus": "Resolved"}), 400)
    assert_error(client.post(url, json={"eventIds": ["nope"], "eventStatus": "Active"}), 404)
    assert_error(client.post(url, json={"eventStatus": "Closed"}), 400)
    # eventIds empty: every event of the subscription.
    again = client.post(url, json={"eventIds": [], "eventStatus": "Active"})
    assert {e["eventStatus"] for e in again.json()} == {"Active"}


# ---------------------------------------------------------------------- authentication


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic c2FuZGJveA==", "Bearer"])
def test_401_without_the_right_token(sandbox, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(sandbox.base_url + "/v1/customers", headers=headers)
    assert_error(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_request_and_correlation_ids_are_echoed(sandbox, client):
    response = client.get(
        sandbox.base_url + "/v1/customers",
        headers={"MS-RequestId": "req-1", "MS-CorrelationId": "corr-1"},
    )
    assert response.headers["MS-RequestId"] == "req-1"
    assert response.headers["MS-CorrelationId"] == "corr-1"
    assert response.headers["content-type"].startswith("application/json")


# ---------------------------------------------------------------------- subscriptions


def test_suspend_and_reactivate_by_patch(sandbox, client):
    customer_id, subscription = a_subscription(sandbox.state, "active")
    url = f"{sandbox.base_url}/v1/customers/{customer_id}/subscriptions/{subscription.id}"
    before = client.get(url).json()
    body = dict(before, status="suspended")
    patched = client.patch(url, json=body)
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "suspended"
    after = client.get(url).json()
    assert after["status"] == "suspended"
    assert after["attributes"]["etag"] != before["attributes"]["etag"]
    Subscription.model_validate(after)
    listed = all_pages(client, sandbox.base_url, f"/v1/customers/{customer_id}/subscriptions")
    statuses = {s["id"]: s["status"] for p in listed for s in p["items"]}
    assert statuses[subscription.id] == "suspended"
    back = client.patch(url, json=dict(after, status="active"))
    assert back.status_code == 200 and back.json()["status"] == "active"
    assert back.json()["attributes"]["etag"] != after["attributes"]["etag"]


def test_patch_changing_another_field_is_400_and_changes_nothing(sandbox, client):
    customer_id, subscription = a_subscription(sandbox.state, "active")
    url = f"{sandbox.base_url}/v1/customers/{customer_id}/subscriptions/{subscription.id}"
    before = client.get(url).json()
    response = client.patch(url, json=dict(before, status="suspended", quantity=999))
    body = assert_error(response, 400)
    assert "quantity" in body["description"]
    assert client.get(url).json() == before


def test_patch_errors(sandbox, client):
    state = sandbox.state
    customer_id, deleted = a_subscription(state, "deleted")
    url = f"{sandbox.base_url}/v1/customers/{customer_id}/subscriptions/{deleted.id}"
    current = client.get(url).json()
    assert_error(client.patch(url, json=dict(current, status="active")), 409)
    customer_id, active = a_subscription(state, "active")
    url = f"{sandbox.base_url}/v1/customers/{customer_id}/subscriptions/{active.id}"
    current = client.get(url).json()
    assert_error(client.patch(url, json=dict(current, status="deleted")), 400)
    assert_error(client.patch(url, content=b"{not json"), 400)
    assert_error(client.patch(url, json={"status": "suspended"}), 400)  # not a subscription
    assert_error(client.patch(url, json=dict(current, id="other", status="suspended")), 400)
    # The same status again is not a change.
    same = client.patch(url, json=current)
    assert same.status_code == 200 and same.json() == current


def test_unknown_ids_are_404_with_code_and_description(sandbox, client):
    customer_id, subscription = a_subscription(sandbox.state, "active")
    base = sandbox.base_url
    assert_error(client.get(base + "/v1/customers/00000000-0000-0000-0000-000000000000"), 404)
    assert_error(client.get(base + "/v1/customers/nobody/subscriptions"), 404)
    assert_error(client.get(f"{base}/v1/customers/{customer_id}/subscriptions/none"), 404)
    assert_error(client.get(base + "/v1/servicerequests/123"), 404)
    assert_error(client.get(base + "/v1/no/such/path"), 404)
    # A subscription of another customer is not found under this one.
    other = next(c for c in sandbox.state.customers if c != customer_id)
    assert_error(client.get(f"{base}/v1/customers/{other}/subscriptions/{subscription.id}"), 404)


# ---------------------------------------------------------------------- service requests


def test_service_requests(sandbox, client):
    base = sandbox.base_url
    topics = client.get(base + "/v1/servicerequests/supporttopics").json()["items"]
    assert topics and all(t["id"] and t["name"] for t in topics)
    new = {
        "title": "Crypto mining on Azure plan",
        "description": "GPU VMs running 480 h/day in brazilsouth since 5 June",
        "severity": "critical",
        "supportTopicId": topics[1]["id"],
    }
    created = client.post(base + "/v1/servicerequests/en-US", json=new)
    assert created.status_code == 201, created.text
    request = ServiceRequest.model_validate(created.json())
    assert request.status == "open" and request.severity == "critical" and request.id
    fetched = client.get(f"{base}/v1/servicerequests/{request.id}").json()
    assert fetched == created.json()
    listed = all_pages(client, base, "/v1/servicerequests", {"size": 1})
    assert request.id in {r["id"] for p in listed for r in p["items"]}
    assert len(listed) == len(sandbox.state.service_requests)
    assert_error(
        client.post(base + "/v1/servicerequests/en-US", json={**new, "severity": "x"}), 400
    )
    assert_error(
        client.post(base + "/v1/servicerequests/en-US", json={**new, "supportTopicId": "1"}), 400
    )
    assert_error(client.post(base + "/v1/servicerequests/en-US", json={"title": "t"}), 400)
