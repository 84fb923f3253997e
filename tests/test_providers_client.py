"""The Partner Center client over a real socket: a small scripted HTTP server on loopback.

No mocks of httpx: every test sends real requests to a `ThreadingHTTPServer` on a free port,
whose handler each test scripts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from riskdesk.providers.auth import StaticToken
from riskdesk.providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderResponseError,
    TransientProviderError,
)
from riskdesk.providers.partner_center import PartnerCenter

TOKEN = "tok-SECRET-0123456789abcdef"  # noqa: S105 - a test token we look for in logs
CUSTOMER = "8d4f2d3c-1c1b-4f35-9b1e-2a3b4c5d6e7f"
SUB = "a1b2c3d4-0000-4000-8000-000000000001"


class Req:
    def __init__(self, method: str, target: str, headers, body: bytes) -> None:
        parts = urlsplit(target)
        self.method = method
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = json.loads(body) if body else None


Reply = tuple[int, dict[str, str], bytes | str | dict | list]


class Server:
    def __init__(self) -> None:
        self.requests: list[Req] = []
        self.handler: Callable[[Req], Reply] = lambda req: (404, {}, {"code": 404})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Req(self.command, self.path, dict(self.headers), body)
                outer.requests.append(req)
                status, headers, payload = outer.handler(req)
                if isinstance(payload, dict | list):
                    data = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json; charset=utf-8", **headers}
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _handle

            def log_message(self, *args) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that timed out and hung up (BrokenPipe) is expected here

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, sleeps):
    pc = PartnerCenter(
        StaticToken(TOKEN),
        base_url=server.url,
        timeout=2.0,
        max_attempts=4,
        backoff_base=0.01,
        sleep=sleeps.append,
    )
    yield pc
    pc.close()


def subscription(status: str = "active", **extra) -> dict:
    return {
        "id": SUB,
        "offerId": "CFQ7TTC0LH18:0001",
        "offerName": "Azure plan",
        "friendlyName": "Azure plan",
        "quantity": 1,
        "unitType": "Licenses",
        "creationDate": "2024-01-04T00:00:00Z",
        "effectiveStartDate": "2024-01-04T00:00:00Z",
        "commitmentEndDate": "9999-12-14T00:00:00Z",
        "autoRenewEnabled": False,
        "status": status,
        "billingCycle": "monthly",
        "billingType": "usage",
        "orderId": "ord-1",
        "contractType": "subscription",
        "attributes": {"etag": "etag-1", "objectType": "Subscription"},
        **extra,
    }


def customer(n: int) -> dict:
    return {
        "id": f"cust-{n}",
        "companyProfile": {"tenantId": f"cust-{n}", "domain": f"c{n}.example", "companyName": "C"},
        "billingProfile": {"email": "a@b.c", "culture": "en-US", "language": "en"},
        "relationshipToPartner": "reseller",
        "attributes": {"objectType": "Customer"},
    }


# ---------------------------------------------------------------- paging


def test_follows_three_pages_with_continuation_tokens(server, client):
    def handler(req: Req) -> Reply:
        token = req.headers.get("ms-continuationtoken")
        page = {None: 0, "t1": 1, "t2": 2}[token]
        items = [customer(page * 2), customer(page * 2 + 1)]
        body: dict = {"totalCount": 2, "items": items, "attributes": {"objectType": "Collection"}}
        if page < 2:
            body["links"] = {
                "next": {
                    "uri": "/customers?size=500&seekOperation=Next",
                    "method": "GET",
                    "headers": [{"key": "MS-ContinuationToken", "value": f"t{page + 1}"}],
                }
            }
        return 200, {}, body

    server.handler = handler
    customers = list(client.list_customers())
    assert [c.id for c in customers] == [f"cust-{n}" for n in range(6)]
    assert [r.path for r in server.requests] == ["/v1/customers"] * 3
    assert server.requests[1].query == {"size": "500", "seekOperation": "Next"}
    # one correlation id for the whole listing, a new request id per page
    assert len({r.headers["ms-correlationid"] for r in server.requests}) == 1
    assert len({r.headers["ms-requestid"] for r in server.requests}) == 3


def test_usage_lines_are_decimal_and_paged(server, client):
    def handler(req: Req) -> Reply:
        line = {
            "customerId": CUSTOMER,
            "subscriptionId": "plan-1",
            "entitlementId": "azsub-1",
            "usageDate": "2024-05-01T00:00:00",
            "meterId": "m1",
            "meterCategory": "Virtual Machines",
            "meterName": "NC6",
            "resourceLocation": "EastUS",
            "quantity": 24.0,
            "unitOfMeasure": "1 Hour",
            "billingPreTaxTotal": 21.60123456789,
            "billingCurrency": "USD",
            "chargeType": "new",
            "invoiceNumber": "",
            "attributes": {"objectType": "DailyRatedUsageLineItem"},
        }
        body: dict = {"totalCount": 1, "items": [line]}
        if "ms-continuationtoken" not in req.headers:
            body["links"] = {
                "next": {
                    "uri": "/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype="
                    "usagelineitems&currencycode=USD&period=current&size=2000&seekOperation=Next",
                    "method": "GET",
                    "headers": [{"key": "MS-ContinuationToken", "value": "c2"}],
                }
            }
        return 200, {}, body

    server.handler = handler
    lines = list(client.list_usage("USD"))
    assert len(lines) == 2
    assert lines[0].billing_pre_tax_total == Decimal("21.60123456789")
    assert lines[0].unit_of_measure == "1 Hour"
    first = server.requests[0]
    assert first.path == "/v1/invoices/unbilled/lineitems"
    assert first.query == {
        "provider": "onetime",
        "invoicelineitemtype": "usagelineitems",
        "currencycode": "USD",
        "period": "current",
        "size": "2000",
    }
    assert server.requests[1].headers["ms-continuationtoken"] == "c2"


def test_fraud_events_as_a_bare_array(server, client):
    server.handler = lambda req: (
        200,
        {},
        [
            {
                "eventId": "e1",
                "eventStatus": "Active",
                "eventType": "NetworkConnectionsToCryptoMiningPools",
                "subscriptionId": "azsub-1",
                "customerTenantId": CUSTOMER,
                "hitCount": "10",
                "firstOccurrence": "2021-12-08T00:25:45.69",
            }
        ],
    )
    events = list(client.list_fraud_events(status="Active"))
    assert events[0].hit_count == "10"  # a string, as documented
    assert events[0].hits == 10
    assert server.requests[0].query == {"EventStatus": "Active"}


# ---------------------------------------------------------------- headers and retries


def test_documented_headers_on_every_call(server, client):
    server.handler = lambda req: (200, {}, subscription())
    client.get_subscription(CUSTOMER, SUB)
    h = server.requests[0].headers
    assert h["authorization"] == f"Bearer {TOKEN}"
    assert h["accept"] == "application/json"
    assert h["ms-contract-version"] == "v1"
    assert h["x-locale"] == "en-US"
    assert h["ms-requestid"] and h["ms-correlationid"]
    assert server.requests[0].path == f"/v1/customers/{CUSTOMER}/subscriptions/{SUB}"


def test_429_with_retry_after_then_200(server, client, sleeps):
    replies = iter(
        [
            (429, {"Retry-After": "3"}, {"statusCode": 429, "message": "Rate limit is exceeded"}),
            (200, {}, subscription()),
        ]
    )
    server.handler = lambda req: next(replies)
    assert client.get_subscription(CUSTOMER, SUB).status == "active"
    assert sleeps == [3.0]
    assert len(server.requests) == 2
    assert len({r.headers["ms-requestid"] for r in server.requests}) == 1


def test_503_twice_then_200_keeps_the_request_id(server, client, sleeps):
    replies = iter(
        [
            (503, {}, {"code": 503, "description": "busy"}),
            (503, {}, "Service Unavailable"),
            (200, {}, subscription()),
        ]
    )
    server.handler = lambda req: next(replies)
    client.get_subscription(CUSTOMER, SUB)
    assert len(server.requests) == 3
    assert len({r.headers["ms-requestid"] for r in server.requests}) == 1
    assert len({r.headers["ms-correlationid"] for r in server.requests}) == 1
    assert len(sleeps) == 2 and all(0 < s <= 0.02 for s in sleeps)


def test_gives_up_after_max_attempts_with_a_transient_error(server, client):
    server.handler = lambda req: (503, {}, {"code": 503, "description": "down"})
    with pytest.raises(TransientProviderError) as info:
        client.get_subscription(CUSTOMER, SUB)
    assert len(server.requests) == 4
    assert info.value.status == 503
    assert "gave up after 4 attempt(s)" in str(info.value)
    assert "get_subscription" in str(info.value)


def test_throttled_beyond_the_time_budget(server, sleeps):
    server.handler = lambda req: (
        429,
        {"Retry-After": "600"},
        {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 600 seconds."},
    )
    pc = PartnerCenter(
        StaticToken(TOKEN), base_url=server.url, max_total_seconds=60, sleep=sleeps.append
    )
    with pytest.raises(TransientProviderError) as info:
        pc.get_subscription(CUSTOMER, SUB)
    assert info.value.retry_after == 600
    assert "Rate limit is exceeded" in str(info.value)
    assert sleeps == []


def test_timeout_is_retried_with_the_same_request_id(server, sleeps):
    calls = []

    def handler(req: Req) -> Reply:
        calls.append(req)
        if len(calls) == 1:
            time.sleep(0.6)
        return 200, {}, subscription()

    server.handler = handler
    pc = PartnerCenter(StaticToken(TOKEN), base_url=server.url, timeout=0.3, sleep=sleeps.append)
    assert pc.get_subscription(CUSTOMER, SUB).id == SUB
    assert len(calls) == 2
    assert calls[0].headers["ms-requestid"] == calls[1].headers["ms-requestid"]


def test_connection_refused_is_transient(sleeps):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pc = PartnerCenter(
        StaticToken(TOKEN), base_url=f"http://127.0.0.1:{port}", max_attempts=2, sleep=sleeps.append
    )
    with pytest.raises(TransientProviderError, match="connection failed"):
        pc.get_subscription(CUSTOMER, SUB)
    assert len(sleeps) == 1


# ---------------------------------------------------------------- permanent and malformed


def test_400_is_permanent_and_carries_the_provider_code(server, client):
    server.handler = lambda req: (
        400,
        {"MS-RequestId": "x"},
        {"code": 800002, "description": "The subscription is not in a valid state", "data": []},
    )
    with pytest.raises(PermanentProviderError) as info:
        client.get_subscription(CUSTOMER, SUB)
    err = info.value
    assert err.status == 400
    assert err.code == 800002
    assert err.description == "The subscription is not in a valid state"
    assert err.call.startswith("get_subscription(customer 8d4f2d3c…")
    assert err.request_id == server.requests[0].headers["ms-requestid"]
    assert err.correlation_id == server.requests[0].headers["ms-correlationid"]
    assert len(server.requests) == 1  # never retried


def test_403_in_the_throttle_shape_still_gives_code_and_message(server, client):
    server.handler = lambda req: (403, {}, {"statusCode": 403, "message": "Forbidden here"})
    with pytest.raises(PermanentProviderError) as info:
        client.get_service_request("sr-1")
    assert info.value.code == 403 and info.value.description == "Forbidden here"


def test_html_error_page_is_a_response_error_naming_the_call(server, client):
    page = "<html><head><title>Service Gateway Error</title></head><body>oops</body></html>"
    server.handler = lambda req: (200, {"Content-Type": "text/html"}, page)
    with pytest.raises(ProviderResponseError) as info:
        list(client.list_subscriptions(CUSTOMER))
    message = str(info.value)
    assert message.startswith("list_subscriptions(customer 8d4f2d3c…): response is not JSON")
    assert "text/html" in message and "<title>Service Gateway Error</title>" in message


def test_missing_required_field_is_a_response_error(server, client):
    body = subscription()
    del body["status"]  # (offerId is not required: the documented suspend body has none)
    server.handler = lambda req: (200, {}, {"totalCount": 1, "items": [body]})
    with pytest.raises(ProviderResponseError) as info:
        list(client.list_subscriptions(CUSTOMER))
    assert "items.0.status" in str(info.value)
    assert "Field required" in str(info.value)


def test_wrong_type_is_a_response_error(server, client):
    server.handler = lambda req: (200, {}, subscription(quantity="many"))
    with pytest.raises(ProviderResponseError, match="quantity"):
        client.get_subscription(CUSTOMER, SUB)


# ---------------------------------------------------------------- suspend / reactivate


def test_suspend_patches_the_whole_resource(server, client):
    state = {"sub": subscription("active", unknownField={"keep": True})}

    def handler(req: Req) -> Reply:
        if req.method == "PATCH":
            state["sub"] = req.body
        return 200, {}, state["sub"]

    server.handler = handler
    result = client.set_subscription_status(CUSTOMER, SUB, "suspended")
    assert result.status == "suspended"
    get, patch = server.requests
    assert (get.method, patch.method) == ("GET", "PATCH")
    assert patch.body["status"] == "suspended"
    assert patch.body["unknownField"] == {"keep": True}  # unknown fields round-trip
    assert patch.body["offerId"] == "CFQ7TTC0LH18:0001"
    assert patch.body["attributes"]["etag"] == "etag-1"
    assert get.headers["ms-correlationid"] == patch.headers["ms-correlationid"]
    assert get.headers["ms-requestid"] != patch.headers["ms-requestid"]


def test_set_status_is_a_noop_when_already_there(server, client):
    server.handler = lambda req: (200, {}, subscription("suspended"))
    assert client.set_subscription_status(CUSTOMER, SUB, "suspended").status == "suspended"
    assert [r.method for r in server.requests] == ["GET"]


def test_service_request_create(server, client):
    def handler(req: Req) -> Reply:
        return 201, {}, {**req.body, "id": "sr-1", "status": "open"}

    server.handler = handler
    sr = client.create_service_request("Crypto mining", "GPU spike", "critical", "32444667")
    assert (sr.id, sr.status, sr.severity) == ("sr-1", "open", "critical")
    req = server.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/servicerequests/en-US")
    assert req.body == {
        "title": "Crypto mining",
        "description": "GPU spike",
        "severity": "critical",
        "supportTopicId": "32444667",
    }


# ---------------------------------------------------------------- the token stays secret


def test_token_in_no_log_record_and_no_exception(server, client, caplog):
    for name in ("httpx", "httpcore", "riskdesk"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    replies = iter(
        [
            (429, {"Retry-After": "0"}, {"statusCode": 429, "message": "slow down"}),
            (503, {}, "busy"),
            (200, {}, subscription()),
            (400, {}, {"code": 1, "description": "bad"}),
            (200, {"Content-Type": "text/html"}, "<html><title>x</title></html>"),
            (401, {}, {"code": 401, "description": "Unauthorized"}),
        ]
    )
    server.handler = lambda req: next(replies)
    errors: list[ProviderError] = []
    client.get_subscription(CUSTOMER, SUB)
    for _ in range(3):
        try:
            client.get_subscription(CUSTOMER, SUB)
        except ProviderError as exc:
            errors.append(exc)
    assert len(errors) == 3
    assert caplog.records, "expected log records"
    assert any(r.name == "riskdesk.providers" for r in caplog.records)
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)
    for exc in errors:
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        assert TOKEN not in repr(exc.__cause__)
    assert TOKEN not in repr(client)
