"""The documented responses of the pages this work added, parsed by the client from a plain
HTTP server (transcribed from learn.microsoft.com/partner-center/developer/<page>).

- get-a-customer-s-usage-spending-budget / update-a-customer-s-usage-spending-budget: the
  printed response is not valid JSON (an object inside an object without a key); transcribed
  as the fields it shows: ``amount``, ``usageSpendingBudget``, ``attributes``, ``links``.
- get-all-service-requests-for-a-customer: ``severity`` and ``status`` as numbers, times
  without a zone, ``lastClosedDate`` the year 1.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskdesk.providers.auth import StaticToken
from riskdesk.providers.errors import NotOfferedError
from riskdesk.providers.partner_center import PartnerCenter
from test_providers_client import Server

CUSTOMER = "8d4f2d3c-1c1b-4f35-9b1e-2a3b4c5d6e7f"

BUDGET = {  # get-a-customer-s-usage-spending-budget (response example)
    "amount": 100,
    "usageSpendingBudget": 100,
    "attributes": {"objectType": "SpendingBudget"},
    "links": {
        "self": {"uri": f"/v1/customers/{CUSTOMER}/usagebudget", "method": "GET", "headers": []}
    },
}
CUSTOMER_REQUESTS = {  # get-all-service-requests-for-a-customer (response example)
    "totalCount": 1,
    "items": [
        {
            "title": "Test",
            "severity": 0,
            "id": "615112491169010",
            "status": 1,
            "primaryContact": {"lastName": "LastName", "firstName": "FirstName"},
            "createdDate": "2015-11-24T01:07:00.863",
            "lastModifiedDate": "2015-11-24T01:17:10.61",
            "lastClosedDate": "0001-01-01T00:00:00",
            "attributes": {"objectType": "ServiceRequest"},
        }
    ],
    "attributes": {"objectType": "Collection"},
}


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_documented_budget_and_customer_requests_are_parsed(server):
    def reply(req):
        if req.path.endswith("/usagebudget"):
            return 200, {}, BUDGET
        return 200, {}, CUSTOMER_REQUESTS

    server.handler = reply
    with PartnerCenter(StaticToken("t"), base_url=server.url) as pc:
        budget = pc.get_usage_budget(CUSTOMER)
        assert budget.amount == Decimal(100) and budget.usage_spending_budget == Decimal(100)
        (request,) = list(pc.list_customer_service_requests(CUSTOMER))
        assert (request.id, request.severity, request.status) == (
            "615112491169010",
            "unknown",
            "open",
        )
        assert request.primary_contact.first_name == "FirstName"  # type: ignore[union-attr]
        pc.update_usage_budget(CUSTOMER, Decimal(100))
    paths = [(r.method, r.path) for r in server.requests]
    assert paths == [
        ("GET", f"/v1/customers/{CUSTOMER}/usagebudget"),
        ("GET", f"/v1/customers/{CUSTOMER}/servicerequests"),
        ("PATCH", f"/v1/customers/{CUSTOMER}/usagebudget"),
    ]
    # update-a-customer-s-usage-spending-budget: the documented request body, as printed
    assert server.requests[-1].body == {
        "Amount": 100,
        "Attributes": {"ObjectType": "SpendingBudget"},
    }


def test_on_21vianet_nothing_undocumented_is_sent(server):
    with PartnerCenter(StaticToken("t"), base_url=server.url, cloud="china") as pc:
        for call in (
            lambda: pc.get_usage_budget(CUSTOMER),
            lambda: pc.update_usage_budget(CUSTOMER, Decimal(1)),
            lambda: list(pc.list_customer_service_requests(CUSTOMER)),
            lambda: pc.create_service_request("t", "d", "critical", "1"),
            lambda: pc.get_service_request("1"),
            lambda: list(pc.list_support_topics()),
        ):
            with pytest.raises(NotOfferedError, match="21Vianet"):
                call()
    assert server.requests == []
