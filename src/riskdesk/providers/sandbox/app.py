"""The sandbox's HTTP API: the Partner Center subset riskdesk uses, over FastAPI.

Every response body is built from the wire models in `riskdesk.providers.records`
(`to_wire()`), so the client and the sandbox agree by construction. Money and quantities in
usage lines go out as JSON numbers written from the exact decimal (never through a float),
as Partner Center sends them.

Order of checks on each request: latency, then `Authorization: Bearer <token>` (401), then
the injected fault (429 / 5xx, before any state is read or changed), then the endpoint.
`MS-RequestId` and `MS-CorrelationId` are echoed back (or made up when absent).

Error bodies: `{code, description, data, source}` (`ErrorBody`); a 429 answers
`{statusCode, message}` (`ThrottleBody`) with `Retry-After`. Codes are strings (the
documented type); the values are the sandbox's own, listed in `Codes`.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskdesk.providers.records import (
    Collection,
    ErrorBody,
    FraudEventStatusUpdate,
    Link,
    LinkHeader,
    Links,
    NewServiceRequest,
    ResourceAttributes,
    ServiceRequest,
    Subscription,
    ThrottleBody,
    WireModel,
    wire_alias,
)
from riskdesk.providers.sandbox.faults import Faults
from riskdesk.providers.sandbox.paging import BadToken, decode_token, encode_token, page
from riskdesk.providers.sandbox.state import Invoice, SandboxState, new_etag

CONTINUATION_HEADER = "MS-ContinuationToken"
ERROR_SOURCE = "PartnerCenterSandbox"


class Codes:
    """Error codes the sandbox answers with (strings, as documented)."""

    UNAUTHORIZED = "401"
    INVALID_INPUT = "2000"
    NOT_FOUND = "404"
    CUSTOMER_NOT_FOUND = "600008"
    SUBSCRIPTION_NOT_FOUND = "20003"
    INVOICE_NOT_FOUND = "1003"
    FRAUD_EVENT_NOT_FOUND = "1004"
    SERVICE_REQUEST_NOT_FOUND = "1005"
    READ_ONLY_FIELD = "800002"
    INVALID_STATUS = "800003"
    SUBSCRIPTION_DELETED = "800004"
    METHOD_NOT_ALLOWED = "405"
    INTERNAL = "500"
    UNAVAILABLE = "503"


class ApiError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


# ---------------------------------------------------------------------- JSON rendering

_NUMBER_MARK = "\x01#"
_NUMBER_RE = re.compile(r'"\\u0001#(-?[0-9][0-9.]*(?:[eE][-+]?[0-9]+)?)"')


@cache
def _decimal_keys(model: type[BaseModel]) -> frozenset[str]:
    keys = set()
    for name, info in model.model_fields.items():
        if "Decimal" in repr(info.annotation):
            keys.add(wire_alias(model, name))
    return frozenset(keys)


def wire(model: WireModel) -> dict[str, Any]:
    """`model.to_wire()`, with its decimal fields marked to be written as JSON numbers."""
    data = model.to_wire()
    for key in _decimal_keys(type(model)):
        value = data.get(key)
        if isinstance(value, str):
            data[key] = _NUMBER_MARK + value
    return data


def render_json(content: Any) -> bytes:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return _NUMBER_RE.sub(r"\1", text).encode("utf-8")


class WireResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)


def error_response(status: int, code: str, description: str, **headers: str) -> WireResponse:
    body = ErrorBody(code=code, description=description, data=[], source=ERROR_SOURCE)
    return WireResponse(body.to_wire(), status_code=status, headers=headers or None)


# ---------------------------------------------------------------------- requests


def _query(request: Request) -> dict[str, tuple[str, str]]:
    """Query parameters by lower-cased name: (name as sent, value). Names are case-insensitive."""
    return {key.lower(): (key, value) for key, value in request.query_params.items()}


def _param(request: Request, name: str) -> str | None:
    found = _query(request).get(name.lower())
    return found[1] if found else None


def _required(request: Request, name: str) -> str:
    value = _param(request, name)
    if value is None or value == "":
        raise ApiError(400, Codes.INVALID_INPUT, f"the query parameter {name!r} is required")
    return value


async def _body(request: Request, model: type[WireModel]) -> WireModel:
    raw = await request.body()
    try:
        data = json.loads(raw or b"null", parse_float=Decimal)
    except ValueError as exc:
        raise ApiError(400, Codes.INVALID_INPUT, f"the request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, Codes.INVALID_INPUT, "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(400, Codes.INVALID_INPUT, f"invalid request body: {problems}") from exc


def _paged(
    request: Request,
    items: Sequence[Any],
    render: Callable[[Any], dict[str, Any]],
    *,
    default_size: int,
    max_size: int,
    with_token_field: bool = False,
) -> dict[str, Any]:
    """One page of `items` in the collection envelope, with `links.next` when more follow.

    The next page is asked for with the link's uri (same filters, `seekOperation=Next`) and
    the `MS-ContinuationToken` header from the link.
    """
    query = _query(request)
    size_text = query.get("size", ("size", str(default_size)))[1]
    try:
        size = int(size_text)
    except ValueError:
        raise ApiError(
            400, Codes.INVALID_INPUT, f"size must be an integer: {size_text!r}"
        ) from None
    if size < 1:
        raise ApiError(400, Codes.INVALID_INPUT, f"size must be at least 1: {size}")
    size = min(size, max_size)
    filters = {k: v for k, v in query.items() if k not in ("size", "seekoperation")}
    scope = request.url.path + "?" + urlencode(sorted((k, v[1]) for k, v in filters.items()))
    seek = query.get("seekoperation", ("", ""))[1]
    token = request.headers.get(CONTINUATION_HEADER)
    if seek and seek.lower() != "next":
        raise ApiError(400, Codes.INVALID_INPUT, f"unsupported seekOperation {seek!r}")
    offset = 0
    if token:
        try:
            offset = decode_token(token, scope)
        except BadToken as exc:
            raise ApiError(400, Codes.INVALID_INPUT, str(exc)) from exc
    elif seek:
        raise ApiError(
            400, Codes.INVALID_INPUT, f"seekOperation=Next needs the {CONTINUATION_HEADER} header"
        )
    chunk, following = page(items, offset, size)
    links = None
    next_token = None
    if following is not None:
        next_token = encode_token(scope, following)
        params = [v for _k, v in sorted(filters.items())]
        params += [("size", str(size)), ("seekOperation", "Next")]
        links = Links(
            next=Link(
                uri=f"{_relative(request.url.path)}?{urlencode(params)}",
                method="GET",
                headers=[LinkHeader(key=CONTINUATION_HEADER, value=next_token)],
            )
        )
    envelope = Collection[Any](
        total_count=len(chunk),
        items=[],
        links=links,
        attributes=ResourceAttributes(object_type="Collection"),
    )
    if with_token_field and next_token:
        envelope.continuation_token = next_token
    data = envelope.to_wire()
    data["items"] = [render(item) for item in chunk]
    return data


def _relative(path: str) -> str:
    """Partner Center writes link uris relative to /v1 (``/customers?...``)."""
    return path[3:] if path.startswith("/v1/") else path


def _collection(items: Sequence[WireModel]) -> dict[str, Any]:
    envelope = Collection[Any](
        total_count=len(items), items=[], attributes=ResourceAttributes(object_type="Collection")
    )
    data = envelope.to_wire()
    data["items"] = [wire(item) for item in items]
    return data


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class InvoiceDetail(WireModel):
    invoice_line_item_type: str
    billing_provider: str
    links: Links | None = None
    attributes: ResourceAttributes | None = None


class InvoiceSummary(WireModel):
    """An invoice as `GET /v1/invoices` lists it (page ``get-a-collection-of-invoices``).

    Not (yet) in `records.py`: the client does not list invoices today.
    """

    id: str
    invoice_date: datetime
    invoice_type: str | None = None
    document_type: str | None = None
    currency_code: str
    total_charges: Decimal
    paid_amount: Decimal | None = None
    invoice_details: list[InvoiceDetail] = []
    attributes: ResourceAttributes | None = None


def invoice_wire(invoice: Invoice) -> dict[str, Any]:
    """An invoice summary, with the link to its usage lines."""
    lines = (
        f"/invoices/{invoice.id}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems"
        f"&currencycode={invoice.currency}&size=2000"
    )
    summary = InvoiceSummary(
        id=invoice.id,
        invoice_date=datetime.fromisoformat(invoice.invoice_date).replace(tzinfo=UTC),
        invoice_type="OneTime",
        document_type="Invoice",
        currency_code=invoice.currency,
        total_charges=invoice.total,
        paid_amount=Decimal(0),
        invoice_details=[
            InvoiceDetail(
                invoice_line_item_type="UsageLineItems",
                billing_provider="OneTime",
                links=Links(self_=Link(uri=lines, method="GET", headers=[])),
                attributes=ResourceAttributes(object_type="InvoiceDetail"),
            )
        ],
        attributes=ResourceAttributes(object_type="Invoice"),
    )
    return wire(summary)


# ---------------------------------------------------------------------- the app


def create_app(state: SandboxState, *, token: str, faults: Faults | None = None) -> FastAPI:
    """The sandbox application over `state`; every request needs `Bearer <token>`."""
    faults = faults or Faults()
    app = FastAPI(
        title="riskdesk Partner Center sandbox",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        default_response_class=WireResponse,
    )
    app.state.sandbox = state
    app.state.faults = faults
    expected = f"bearer {token}".encode()

    @app.middleware("http")
    async def partner_center_front_door(request: Request, call_next):
        request_id = request.headers.get("MS-RequestId") or str(uuid.uuid4())
        correlation_id = request.headers.get("MS-CorrelationId") or str(uuid.uuid4())
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        supplied = request.headers.get("Authorization", "")
        scheme, _, credential = supplied.partition(" ")
        presented = f"{scheme.lower()} {credential.strip()}".encode()
        if not secrets.compare_digest(presented, expected):
            response: Response = error_response(
                401,
                Codes.UNAUTHORIZED,
                "Authentication failed: a valid 'Authorization: Bearer <token>' header is required",
                **{"WWW-Authenticate": 'Bearer realm="partner-center-sandbox"'},
            )
        else:
            fault = faults.draw()
            if fault.kind == "throttle":
                body = ThrottleBody(
                    status_code=429,
                    message=(
                        f"Rate limit is exceeded. Try again in {fault.retry_after_s} seconds."
                    ),
                )
                response = WireResponse(
                    body.to_wire(),
                    status_code=429,
                    headers={"Retry-After": str(fault.retry_after_s)},
                )
            elif fault.kind == "error":
                description = (
                    "The service is temporarily unavailable (injected fault)"
                    if fault.status == 503
                    else "An internal error occurred (injected fault)"
                )
                code = Codes.UNAVAILABLE if fault.status == 503 else Codes.INTERNAL
                response = error_response(fault.status, code, description)
            else:
                response = await call_next(request)
        response.headers["MS-RequestId"] = request_id
        response.headers["MS-CorrelationId"] = correlation_id
        return response

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.description)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 405:
            return error_response(
                405, Codes.METHOD_NOT_ALLOWED, f"{request.method} is not allowed here"
            )
        if exc.status_code == 404:
            return error_response(404, Codes.NOT_FOUND, f"no resource at {request.url.path}")
        return error_response(exc.status_code, str(exc.status_code), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError):
        return error_response(400, Codes.INVALID_INPUT, f"invalid request: {exc.errors()}")

    def customer_or_404(customer_id: str):
        customer = state.customers.get(customer_id)
        if customer is None:
            raise ApiError(404, Codes.CUSTOMER_NOT_FOUND, f"customer {customer_id} was not found")
        return customer

    def subscription_or_404(customer_id: str, subscription_id: str) -> Subscription:
        customer_or_404(customer_id)
        subscription = state.subscription(customer_id, subscription_id)
        if subscription is None:
            raise ApiError(
                404,
                Codes.SUBSCRIPTION_NOT_FOUND,
                f"subscription {subscription_id} of customer {customer_id} was not found",
            )
        return subscription

    # ------------------------------------------------------------------ customers

    @app.get("/v1/customers")
    def list_customers(request: Request):
        return _paged(request, state.customer_list(), wire, default_size=100, max_size=100)

    @app.get("/v1/customers/{customer_id}")
    def get_customer(customer_id: str):
        with state.lock:
            return wire(customer_or_404(customer_id))

    # ------------------------------------------------------------------ subscriptions

    @app.get("/v1/customers/{customer_id}/subscriptions")
    def list_subscriptions(request: Request, customer_id: str):
        with state.lock:
            customer_or_404(customer_id)
            items = list(state.subscriptions.get(customer_id, {}).values())
        return _paged(request, items, wire, default_size=100, max_size=100)

    @app.get("/v1/customers/{customer_id}/subscriptions/{subscription_id}")
    def get_subscription(customer_id: str, subscription_id: str):
        with state.lock:
            return wire(subscription_or_404(customer_id, subscription_id))

    @app.patch("/v1/customers/{customer_id}/subscriptions/{subscription_id}")
    async def patch_subscription(request: Request, customer_id: str, subscription_id: str):
        body = await _body(request, Subscription)
        assert isinstance(body, Subscription)
        with state.lock:
            current = subscription_or_404(customer_id, subscription_id)
            updated = _apply_subscription_patch(current, body)
            if updated is not current:
                state.subscriptions[customer_id][subscription_id] = updated
                state.save()
            return wire(updated)

    # ------------------------------------------------------------------ usage and invoices

    @app.get("/v1/invoices")
    def list_invoices(request: Request):
        invoices = sorted(state.invoices().values(), key=lambda i: (i.invoice_date, i.id))
        return _paged(request, invoices, invoice_wire, default_size=100, max_size=1000)

    @app.get("/v1/invoices/{invoice_id}/lineitems")
    def invoice_line_items(request: Request, invoice_id: str):
        provider = _required(request, "provider").lower()
        kind = _required(request, "invoicelineitemtype").lower()
        currency = _required(request, "currencycode").upper()
        if provider != "onetime":
            raise ApiError(
                400, Codes.INVALID_INPUT, f"provider {provider!r}: the sandbox serves 'onetime'"
            )
        if kind not in ("usagelineitems", "billinglineitems"):
            raise ApiError(
                400,
                Codes.INVALID_INPUT,
                f"invoicelineitemtype must be usagelineitems or billinglineitems: {kind!r}",
            )
        if invoice_id.lower() == "unbilled":
            period = _required(request, "period").lower()
            if period not in ("current", "previous"):
                raise ApiError(
                    400, Codes.INVALID_INPUT, f"period must be current or previous: {period!r}"
                )
            with state.lock:
                rows = state.usage_rows(None, currency) if period == "current" else []
        else:
            with state.lock:
                if invoice_id not in state.invoices():
                    raise ApiError(
                        404, Codes.INVOICE_NOT_FOUND, f"invoice {invoice_id} was not found"
                    )
                rows = state.usage_rows(invoice_id, currency)
        if kind == "billinglineitems":
            rows = []  # the sandbox keeps no license-based (seat) billing lines
        return _paged(
            request,
            rows,
            lambda row: wire(state.usage_item(row)),
            default_size=2000,
            max_size=2000,
            with_token_field=True,
        )

    # ------------------------------------------------------------------ fraud events

    @app.get("/v1/fraudEvents")
    def list_fraud_events(request: Request):
        status = _param(request, "EventStatus")
        subscription_id = (_param(request, "SubscriptionId") or "").lower()
        wanted = None
        if status:
            wanted = _FRAUD_STATUSES.get(status.lower())
            if wanted is None:
                raise ApiError(
                    400,
                    Codes.INVALID_INPUT,
                    f"EventStatus must be Active, Investigating or Resolved: {status!r}",
                )
        with state.lock:
            events = [
                e
                for e in state.fraud_events.values()
                if (wanted is None or e.event_status == wanted)
                and (not subscription_id or (e.subscription_id or "").lower() == subscription_id)
            ]
        return _paged(request, events, wire, default_size=100, max_size=500)

    @app.post("/v1/fraudEvents/subscription/{subscription_id}/status")
    async def update_fraud_events(request: Request, subscription_id: str):
        body = await _body(request, FraudEventStatusUpdate)
        assert isinstance(body, FraudEventStatusUpdate)
        if body.event_status == "Resolved" and not body.resolved_reason:
            raise ApiError(
                400, Codes.INVALID_INPUT, "resolvedReason (Fraud or Ignore) is required to resolve"
            )
        with state.lock:
            mine = {
                e.event_id: e
                for e in state.fraud_events.values()
                if (e.subscription_id or "").lower() == subscription_id.lower()
            }
            if not mine:
                raise ApiError(
                    404,
                    Codes.FRAUD_EVENT_NOT_FOUND,
                    f"no fraud events for subscription {subscription_id}",
                )
            unknown = [i for i in body.event_ids if i not in mine]
            if unknown:
                raise ApiError(
                    404,
                    Codes.FRAUD_EVENT_NOT_FOUND,
                    f"fraud events not found for subscription {subscription_id}: "
                    + ", ".join(unknown),
                )
            chosen = [mine[i] for i in body.event_ids] if body.event_ids else list(mine.values())
            now = _now()
            updated = []
            for event in chosen:
                changes: dict[str, Any] = {"event_status": body.event_status}
                if body.event_status == "Resolved":
                    changes.update(
                        resolved_reason=body.resolved_reason, resolved_on=now, resolved_by="api"
                    )
                else:
                    changes.update(resolved_reason=None, resolved_on=None, resolved_by=None)
                new = event.model_copy(update=changes)
                for name in changes:  # mark as set, so to_wire() writes them
                    new.model_fields_set.add(name)
                state.fraud_events[event.event_id] = new
                updated.append(new)
            state.save()
            return _collection(updated)

    # ------------------------------------------------------------------ service requests

    @app.get("/v1/servicerequests/supporttopics")
    def support_topics():
        with state.lock:
            return _collection(list(state.support_topics.values()))

    @app.get("/v1/servicerequests")
    def list_service_requests(request: Request):
        with state.lock:
            requests = list(state.service_requests.values())
        return _paged(request, requests, wire, default_size=100, max_size=100)

    @app.get("/v1/servicerequests/{request_id}")
    def get_service_request(request_id: str):
        with state.lock:
            found = state.service_requests.get(request_id)
            if found is None:
                raise ApiError(
                    404,
                    Codes.SERVICE_REQUEST_NOT_FOUND,
                    f"service request {request_id} was not found",
                )
            return wire(found)

    @app.post("/v1/servicerequests/{culture}", status_code=201)
    async def create_service_request(request: Request, culture: str):
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", culture):
            raise ApiError(400, Codes.INVALID_INPUT, f"invalid culture {culture!r}")
        body = await _body(request, NewServiceRequest)
        assert isinstance(body, NewServiceRequest)
        if body.severity == "unknown":
            raise ApiError(
                400, Codes.INVALID_INPUT, "severity must be minimal, moderate or critical"
            )
        if not body.title.strip() or len(body.title) > 256:
            raise ApiError(400, Codes.INVALID_INPUT, "title must be 1 to 256 characters")
        if not body.description.strip():
            raise ApiError(400, Codes.INVALID_INPUT, "description must not be empty")
        with state.lock:
            topic = state.support_topics.get(str(body.support_topic_id))
            if topic is None:
                raise ApiError(
                    400, Codes.INVALID_INPUT, f"unknown supportTopicId {body.support_topic_id!r}"
                )
            now = _now()
            created = ServiceRequest(
                id=str(state.next_service_request),
                title=body.title,
                description=body.description,
                severity=body.severity,
                status="open",
                support_topic_id=str(topic.id),
                support_topic_name=topic.name,
                created_date=now,
                last_modified_date=now,
                notes=[],
                attributes=ResourceAttributes(object_type="ServiceRequest"),
            )
            state.next_service_request += 1
            state.service_requests[str(created.id)] = created
            state.save()
            return WireResponse(wire(created), status_code=201)

    return app


# ---------------------------------------------------------------------- PATCH semantics

_FRAUD_STATUSES = {"active": "Active", "investigating": "Investigating", "resolved": "Resolved"}

# Fields the server owns: a client sending them back changed is not asking for a change.
_SERVER_FIELDS = {"status", "attributes", "suspension_reasons"}
_STATUSES_SETTABLE = {"active", "suspended"}


def _apply_subscription_patch(current: Subscription, body: Subscription) -> Subscription:
    """The subscription after a PATCH with `body`; `current` itself when nothing changes.

    Only `status` may change (`active` <-> `suspended`). Any other field present in the
    body with another value is a 400; a deleted subscription is a 409.
    """
    if body.id != current.id:
        raise ApiError(
            400,
            Codes.READ_ONLY_FIELD,
            f"the body's id {body.id!r} does not match the subscription {current.id!r}",
        )
    now = current.model_dump(mode="json", by_alias=False)
    sent = body.model_dump(mode="json", by_alias=False, exclude_unset=True)
    changed = sorted(
        name
        for name, value in sent.items()
        if name not in _SERVER_FIELDS and now.get(name) != value
    )
    if changed:
        names = ", ".join(wire_alias(Subscription, n) if n in Subscription.model_fields else n
                          for n in changed)  # fmt: skip
        raise ApiError(
            400,
            Codes.READ_ONLY_FIELD,
            f"only status can be changed on a subscription; the request also changes: {names}",
        )
    if current.status == "deleted":
        raise ApiError(
            409,
            Codes.SUBSCRIPTION_DELETED,
            f"subscription {current.id} is deleted and cannot be changed",
        )
    if body.status not in _STATUSES_SETTABLE:
        raise ApiError(
            400,
            Codes.INVALID_STATUS,
            f"status can be set to active or suspended, not {body.status!r}",
        )
    if body.status == current.status:
        return current
    if current.status not in _STATUSES_SETTABLE:
        raise ApiError(
            409,
            Codes.INVALID_STATUS,
            f"subscription {current.id} is {current.status} and cannot be {body.status}",
        )
    reasons = ["PartnerInitiated"] if body.status == "suspended" else None
    attributes = (current.attributes or ResourceAttributes()).model_copy(
        update={"etag": new_etag(), "object_type": "Subscription"}
    )
    attributes.model_fields_set.update({"etag", "object_type"})
    updated = current.model_copy(
        update={"status": body.status, "suspension_reasons": reasons, "attributes": attributes}
    )
    updated.model_fields_set.update({"status", "attributes"})
    if reasons:
        updated.model_fields_set.add("suspension_reasons")
    else:
        updated.model_fields_set.discard("suspension_reasons")
    return updated
