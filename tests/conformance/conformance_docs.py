"""The documented Partner Center examples (fixtures/<page>.json) and a sandbox that holds
the resources they name.

Each fixture names its page (learn.microsoft.com/partner-center/developer/<page>) and where
its text was read; each example is a request (method, path, query, headers, body) or a
response (status, headers, body) copied as printed, with any syntax fix written down in
``syntax_fixed``. Placeholders the pages print (``<customer-tenant-id>``, ``<etag>``,
``{SubscriptionId}``) are filled in with the documented resources seeded by `documented_state`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from riskdesk.providers.records import (
    Customer,
    FraudEvent,
    ServiceRequest,
    Subscription,
    SupportTopic,
)
from riskdesk.providers.sandbox.resources import make_customer
from riskdesk.providers.sandbox.state import SandboxState, UsageRow

FIXTURES = Path(__file__).parent / "fixtures"
CUSTOMER = "4d3cf487-70f4-4e1e-9ff1-b2bfce8d9f04"  # the customer of get-a-subscription-by-id
FRAUD_SUBSCRIPTION = "2a7064fb-1e33-4007-974e-352cb3f2c805"
PLACEHOLDERS = {
    "<customer-tenant-id>": CUSTOMER,
    "<id-for-subscription>": "83ef9d05-4169-4ef9-9657-0e86b1eab1de",
    "<subscriptionID>": "83ef9d05-4169-4ef9-9657-0e86b1eab1de",
    "<invoice-id>": "G000024135",
    "{EventStatus}": "Active",
    "{SubscriptionId}": FRAUD_SUBSCRIPTION,
    "{subscriptionId}": FRAUD_SUBSCRIPTION,
    "{EventType}": "NetworkConnectionsToCryptoMiningPools",
    "{PageSize}": "10",
    "{PageNumber}": "1",
}


def load(page: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{page}.json").read_text(encoding="utf-8"))


def pages() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def examples(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(page, example) for every documented example of `kind` ("request" or "response")."""
    return [(page, ex) for page in pages() for ex in load(page)["examples"] if ex["kind"] == kind]


def example(page: str, name: str) -> dict[str, Any]:
    (found,) = [ex for ex in load(page)["examples"] if ex["name"] == name]
    return found


def fill(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def _usage(invoice: str | None, day: str, n: int) -> UsageRow:
    return UsageRow(
        customer_id=CUSTOMER,
        subscription_id="12345678-9d62-4a85-8fd0-91a87c261bc4",
        entitlement_id="66bada28-271e-4b7a-aaf5-c0ead6312345",
        usage_date=day,
        meter_id=f"meter-{n}",
        meter_category="Virtual Machines",
        meter_name="D2 v3",
        region="EASTUS",
        quantity="23.200004",
        unit="1 Hour",
        currency="USD",
        amount="0.486031696515249",
        invoice_number=invoice,
    )


def documented_state() -> SandboxState:
    """A sandbox state holding what the documented requests name (ids from the pages)."""
    state = SandboxState()
    customers = load("get-a-list-of-customers")
    listed = example("get-a-list-of-customers", "response")["body"]["items"]
    for item in listed:
        state.add_customer(Customer.model_validate(item))
    state.add_customer(make_customer(CUSTOMER, "Documented customer", country="US"))
    assert customers["examples"]
    # the documented subscriptions: the suspend page's (active, so it can be suspended) and
    # the ones the subscription pages print
    documented = example("suspend-a-subscription", "response")["body"]
    state.add_subscription(
        CUSTOMER, Subscription.model_validate({**documented, "Status": "active"})
    )
    for page, name in (
        ("get-a-subscription-by-id", "response (license-based)"),
        ("get-all-of-a-customer-s-subscriptions", "response"),
    ):
        body = example(page, name)["body"]
        for item in body.get("items", [body]):
            sub = Subscription.model_validate(item)
            if state.subscription(CUSTOMER, sub.id) is None:
                state.add_subscription(CUSTOMER, sub)
    state.add_usage(
        [_usage("G000024135", "2018-01-10", i) for i in range(2)]
        + [_usage("T000001234", "2018-11-13", i) for i in range(3)]
        + [_usage(None, "2019-01-01", i) for i in range(3)]
    )
    for name in ("response with X-NewEventsModel",):
        for item in example("get-fraud-events", name)["body"]:
            state.add_fraud_event(FraudEvent.model_validate(item))
    state.add_support_topic(SupportTopic(id="32444671", name="Cannot manage my profile"))
    detail = example("get-service-request-details-by-id", "response")["body"]
    state.service_requests[detail["id"]] = ServiceRequest.model_validate(
        {**detail, "organization": {"id": CUSTOMER, "name": "Documented customer"}}
    )
    return state
