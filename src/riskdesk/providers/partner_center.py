"""`PartnerCenter`: the Partner Center REST client (global cloud and 21Vianet), over httpx.

Pages followed (learn.microsoft.com/partner-center/developer/...):

- ``partner-center-rest-urls``: base URLs (global ``https://api.partnercenter.microsoft.com``,
  21Vianet ``https://partner.partnercenterapi.microsoftonline.cn``);
  ``partner-center-authentication`` for the authorities (``https://login.microsoftonline.com``, ``https://login.chinacloudapi.cn``).
- ``headers``: ``Authorization``, ``Accept``, ``MS-RequestId`` (unique per call, the *same* value
  on a retry after a timeout, so the call stays idempotent), ``MS-CorrelationId`` (one per
  operation, shared by its pages and its read-then-write), ``MS-Contract-Version: v1``,
  ``X-Locale``, ``MS-PartnerCenter-Application``.
- ``get-a-list-of-customers``: GET /v1/customers?size=N, continuation via ``links.next``.
- ``get-all-of-a-customer-s-subscriptions``, ``get-a-subscription-by-id``: GET
  /v1/customers/{customer}/subscriptions[/{id}].
- ``suspend-a-subscription``, ``reactivate-a-suspended-a-subscription``: PATCH the whole
  subscription resource with ``status`` ``suspended`` / ``active``.
- ``get-invoice-unbilled-consumption-lineitems``: GET /v1/invoices/unbilled/lineitems?
  provider=onetime&invoicelineitemtype=usagelineitems&currencycode=..&period=current&size=..;
  ``get-invoice-billed-consumption-lineitems``: GET /v1/invoices/{id}/lineitems?provider=onetime&
  invoicelineitemtype=usagelineitems&currencycode=..&size=..; the next page is ``links.next``
  (``seekOperation=Next`` in its uri, ``MS-ContinuationToken`` in its headers).
- ``get-invoice-billed-recon-lineitems`` (new commerce): ``invoicelineitemtype=billinglineitems``.
- ``get-fraud-events`` (GET /v1/fraudEvents?EventStatus=..&SubscriptionId=..),
  ``update-fraud-events-status`` (POST /v1/fraudEvents/subscription/{id}/status).
- ``get-service-request-support-topics`` (GET /v1/servicerequests/supporttopics),
  ``create-a-service-request`` (POST /v1/servicerequests/{agentLocale}),
  ``get-service-request-by-id`` (GET /v1/servicerequests/{id}), ``get-service-requests``
  (GET /v1/servicerequests). These are documented for the global cloud, not for 21Vianet.

Failure handling: 429 (honouring ``Retry-After``), 5xx, timeouts and connection errors are
retried with exponential backoff and jitter, within ``max_attempts`` and ``max_total_seconds``,
then raise `TransientProviderError`. Any other 4xx raises `PermanentProviderError` with the
provider's code and message (``{code, description}`` or, for 429, ``{statusCode, message}``).
A body that is not the documented JSON raises `ProviderResponseError`.

The bearer token is never logged and never put in an exception message. Log records (logger
``riskdesk.providers``) carry method, path, status, request id and elapsed milliseconds.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from riskdesk.providers.auth import TokenProvider
from riskdesk.providers.base import SettableStatus
from riskdesk.providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderResponseError,
    TransientProviderError,
)
from riskdesk.providers.records import (
    Collection,
    Customer,
    DailyRatedUsageLineItem,
    ErrorBody,
    FraudEvent,
    FraudEventStatus,
    FraudEventStatusUpdate,
    InvoiceSummary,
    Link,
    NewServiceRequest,
    OneTimeInvoiceLineItem,
    ServiceRequest,
    ServiceRequestSeverity,
    Subscription,
    SupportTopic,
    ThrottleBody,
)

logger = logging.getLogger("riskdesk.providers")

Cloud = Literal["global", "china"]


@dataclass(frozen=True)
class CloudEndpoints:
    api_base_url: str
    authority_host: str
    scope: str


CLOUDS: dict[str, CloudEndpoints] = {
    "global": CloudEndpoints(
        api_base_url="https://api.partnercenter.microsoft.com",
        authority_host="https://login.microsoftonline.com",
        scope="https://api.partnercenter.microsoft.com/.default",
    ),
    "china": CloudEndpoints(
        api_base_url="https://partner.partnercenterapi.microsoftonline.cn",
        authority_host="https://login.chinacloudapi.cn",
        scope="https://partner.partnercenterapi.microsoftonline.cn/.default",
    ),
}


def endpoints(cloud: str) -> CloudEndpoints:
    """The API base URL, token authority host and token scope of a cloud."""
    try:
        return CLOUDS[cloud]
    except KeyError:
        raise ValueError(f"unknown cloud {cloud!r}; expected one of {sorted(CLOUDS)}") from None


M = TypeVar("M", bound=BaseModel)

USAGE_PAGE_SIZE = 2000
LIST_PAGE_SIZE = 500
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _short(ident: str) -> str:
    return ident if len(ident) <= 12 else ident[:8] + "…"


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class PartnerCenter:
    """A `Provider` over the Partner Center REST API (or the sandbox, via ``base_url``).

    ``client`` may be injected (tests, shared connection pools); it is then not closed here.
    """

    def __init__(
        self,
        token_provider: TokenProvider,
        *,
        cloud: Cloud = "global",
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_attempts: int = 15,
        max_total_seconds: float = 300.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        locale: str = "en-US",
        application: str = "riskdesk",
        page_size: int = LIST_PAGE_SIZE,
        usage_page_size: int = USAGE_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.cloud = cloud
        self.endpoints = endpoints(cloud)
        self.base_url = (base_url or self.endpoints.api_base_url).rstrip("/")
        self._token_provider = token_provider
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
        )
        self.max_attempts = max_attempts
        self.max_total_seconds = max_total_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.locale = locale
        self.application = application
        self.page_size = page_size
        self.usage_page_size = usage_page_size
        self._sleep = sleep

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> PartnerCenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PartnerCenter(cloud={self.cloud!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------ customers and subscriptions

    def list_customers(self) -> Iterator[Customer]:
        return self._paged("list_customers", "/v1/customers", {"size": self.page_size}, Customer)

    def list_subscriptions(self, customer_id: str) -> Iterator[Subscription]:
        return self._paged(
            f"list_subscriptions(customer {_short(customer_id)})",
            f"/v1/customers/{quote(customer_id, safe='')}/subscriptions",
            None,
            Subscription,
        )

    def get_subscription(self, customer_id: str, subscription_id: str) -> Subscription:
        call = f"get_subscription(customer {_short(customer_id)}, {_short(subscription_id)})"
        return self._get_subscription(call, customer_id, subscription_id, self._new_id())

    def set_subscription_status(
        self, customer_id: str, subscription_id: str, status: SettableStatus
    ) -> Subscription:
        if status not in ("active", "suspended"):
            raise ValueError(f"status must be 'active' or 'suspended', not {status!r}")
        call = (
            f"set_subscription_status(customer {_short(customer_id)}, "
            f"{_short(subscription_id)}, {status})"
        )
        correlation_id = self._new_id()
        current = self._get_subscription(call, customer_id, subscription_id, correlation_id)
        if current.status == status:
            logger.info("%s: already %s, nothing to do", call, status)
            return current
        body = current.to_wire()
        body["status"] = status
        response = self._request(
            call,
            "PATCH",
            self._subscription_path(customer_id, subscription_id),
            json_body=body,
            correlation_id=correlation_id,
        )
        return self._model(call, Subscription, self._json(call, response), response=response)

    def _subscription_path(self, customer_id: str, subscription_id: str) -> str:
        return (
            f"/v1/customers/{quote(customer_id, safe='')}"
            f"/subscriptions/{quote(subscription_id, safe='')}"
        )

    def _get_subscription(
        self, call: str, customer_id: str, subscription_id: str, correlation_id: str
    ) -> Subscription:
        response = self._request(
            call,
            "GET",
            self._subscription_path(customer_id, subscription_id),
            correlation_id=correlation_id,
        )
        return self._model(call, Subscription, self._json(call, response), response=response)

    # ------------------------------------------------------------ usage and invoices

    def list_usage(
        self, currency: str, *, invoice_id: str | None = None
    ) -> Iterator[DailyRatedUsageLineItem]:
        params: dict[str, Any] = {
            "provider": "onetime",
            "invoicelineitemtype": "usagelineitems",
            "currencycode": currency,
        }
        if invoice_id is None:
            call = f"list_usage(unbilled, {currency})"
            path = "/v1/invoices/unbilled/lineitems"
            params["period"] = "current"
        else:
            call = f"list_usage(invoice {invoice_id}, {currency})"
            path = f"/v1/invoices/{quote(invoice_id, safe='')}/lineitems"
        params["size"] = self.usage_page_size
        return self._paged(call, path, params, DailyRatedUsageLineItem, decimal=True)

    def list_invoices(self) -> Iterator[InvoiceSummary]:
        # learn.microsoft.com/partner-center/developer/get-invoices
        return self._paged("list_invoices", "/v1/invoices", None, InvoiceSummary, decimal=True)

    def list_invoice_lines(
        self, invoice_id: str, currency: str
    ) -> Iterator[OneTimeInvoiceLineItem]:
        params = {
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": currency,
            "size": self.usage_page_size,
        }
        return self._paged(
            f"list_invoice_lines(invoice {invoice_id}, {currency})",
            f"/v1/invoices/{quote(invoice_id, safe='')}/lineitems",
            params,
            OneTimeInvoiceLineItem,
            decimal=True,
        )

    # ------------------------------------------------------------ fraud events

    def list_fraud_events(
        self, status: FraudEventStatus | None = None, subscription_id: str | None = None
    ) -> Iterator[FraudEvent]:
        params: dict[str, Any] = {}
        if status is not None:
            params["EventStatus"] = status
        if subscription_id is not None:
            params["SubscriptionId"] = subscription_id
        what = ", ".join(
            x for x in (status, subscription_id and f"subscription {subscription_id}") if x
        )
        return self._paged(f"list_fraud_events({what})", "/v1/fraudEvents", params, FraudEvent)

    def update_fraud_events(
        self,
        subscription_id: str,
        event_ids: list[str],
        status: FraudEventStatus,
        resolved_reason: Literal["Fraud", "Ignore"] | None = None,
    ) -> list[FraudEvent]:
        call = f"update_fraud_events(subscription {subscription_id}, {status})"
        body = FraudEventStatusUpdate(
            event_ids=list(event_ids), event_status=status, resolved_reason=resolved_reason
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        response = self._request(
            call,
            "POST",
            f"/v1/fraudEvents/subscription/{quote(subscription_id, safe='')}/status",
            json_body=body,
            correlation_id=self._new_id(),
        )
        data = self._json(call, response)
        items = data.get("items") if isinstance(data, dict) else data
        return self._model(call, TypeAdapter(list[FraudEvent]), items, response=response)

    # ------------------------------------------------------------ service requests

    def list_support_topics(self) -> Iterator[SupportTopic]:
        return self._paged(
            "list_support_topics", "/v1/servicerequests/supporttopics", None, SupportTopic
        )

    def create_service_request(
        self,
        title: str,
        description: str,
        severity: ServiceRequestSeverity,
        support_topic_id: str,
    ) -> ServiceRequest:
        call = f"create_service_request({title[:40]!r})"
        body = NewServiceRequest(
            title=title,
            description=description,
            severity=severity,
            support_topic_id=str(support_topic_id),
        ).to_wire()
        response = self._request(
            call,
            "POST",
            f"/v1/servicerequests/{quote(self.locale, safe='')}",
            json_body=body,
            correlation_id=self._new_id(),
        )
        return self._model(call, ServiceRequest, self._json(call, response), response=response)

    def get_service_request(self, request_id: str) -> ServiceRequest:
        call = f"get_service_request({request_id})"
        response = self._request(
            call,
            "GET",
            f"/v1/servicerequests/{quote(request_id, safe='')}",
            correlation_id=self._new_id(),
        )
        return self._model(call, ServiceRequest, self._json(call, response), response=response)

    def list_service_requests(self) -> Iterator[ServiceRequest]:
        return self._paged("list_service_requests", "/v1/servicerequests", None, ServiceRequest)

    # ------------------------------------------------------------ paging

    def _paged(
        self,
        call: str,
        path: str,
        params: dict[str, Any] | None,
        model: type[M],
        *,
        decimal: bool = False,
    ) -> Iterator[M]:
        """Items of every page, fetched lazily; one correlation id for the whole listing."""
        correlation_id = self._new_id()
        envelope = TypeAdapter(Collection[model])  # type: ignore[valid-type]
        bare = TypeAdapter(list[model])  # type: ignore[valid-type]
        target: str = path
        extra_headers: dict[str, str] = {}
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        page = 0
        while True:
            page += 1
            response = self._request(
                call,
                "GET",
                target,
                params=params,
                headers=extra_headers,
                correlation_id=correlation_id,
            )
            data = self._json(call, response, decimal=decimal)
            if isinstance(data, list):  # fraud events are documented as a bare array
                yield from self._model(call, bare, data, response=response)
                return
            collection = self._model(call, envelope, data, page=page, response=response)
            yield from collection.items
            link: Link | None = collection.next_link
            if link is None:
                return
            if link.method.upper() != "GET":
                raise ProviderResponseError(
                    f"page {page}: links.next asks for {link.method}, expected GET", call=call
                )
            extra_headers = {h.key: h.value for h in link.headers}
            key = (link.uri, tuple(sorted(extra_headers.items())))
            if key in seen:
                raise ProviderResponseError(
                    f"page {page}: links.next repeats an earlier page ({link.uri})", call=call
                )
            seen.add(key)
            target = self._resolve(link.uri)
            params = None  # the next uri carries its own query

    def _resolve(self, uri: str) -> str:
        """A ``links.next`` uri as an absolute URL; Partner Center gives it relative to /v1."""
        if urlsplit(uri).scheme:
            return uri
        if uri.startswith("/v1/"):
            return self.base_url + uri
        return urljoin(self.base_url + "/v1/", uri.lstrip("/"))

    # ------------------------------------------------------------ one request, with retries

    @staticmethod
    def _new_id() -> str:
        return str(uuid.uuid4())

    def _url(self, target: str) -> str:
        return target if urlsplit(target).scheme else self.base_url + target

    def _request(
        self,
        call: str,
        method: str,
        target: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        correlation_id: str,
    ) -> httpx.Response:
        url = self._url(target)
        path = urlsplit(url).path
        request_id = self._new_id()  # the same on every retry of this request
        ids: dict[str, Any] = {"request_id": request_id, "correlation_id": correlation_id}
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                token = self._token_provider.get_token()
            except ProviderError as exc:
                exc.call = exc.call or call
                raise
            request_headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "MS-RequestId": request_id,
                "MS-CorrelationId": correlation_id,
                "MS-Contract-Version": "v1",
                "X-Locale": self.locale,
                "MS-PartnerCenter-Application": self.application,
            }
            if json_body is not None:
                request_headers["Content-Type"] = "application/json"
            request_headers.update(headers or {})
            content = json.dumps(json_body, default=str).encode() if json_body is not None else None
            sent = time.monotonic()
            failure: TransientProviderError
            try:
                response = self._client.request(
                    method, url, params=params, headers=request_headers, content=content
                )
            except httpx.TimeoutException as exc:
                failure = TransientProviderError(
                    f"timed out ({type(exc).__name__}) on {method} {path}", call=call, **ids
                )
                failure.__cause__ = exc
                self._log(method, path, "timeout", request_id, sent, attempt)
            except httpx.TransportError as exc:
                failure = TransientProviderError(
                    f"connection failed ({type(exc).__name__}: {exc}) on {method} {path}",
                    call=call,
                    **ids,
                )
                failure.__cause__ = exc
                self._log(method, path, "connection error", request_id, sent, attempt)
            else:
                self._log(method, path, response.status_code, request_id, sent, attempt)
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status not in _RETRY_STATUS:
                    raise self._permanent(call, response, **ids)
                code, message = self._error_parts(response)
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                what = "throttled (429)" if status == 429 else f"server error {status}"
                detail = f": {message}" if message else ""
                failure = TransientProviderError(
                    f"{what} on {method} {path}{detail}",
                    call=call,
                    status=status,
                    retry_after=retry_after,
                    **ids,
                )
            delay = self._delay(attempt, failure.retry_after)
            elapsed = time.monotonic() - started
            if attempt >= self.max_attempts or elapsed + delay > self.max_total_seconds:
                raise TransientProviderError(
                    f"{failure.detail}; gave up after {attempt} attempt(s) in {elapsed:.1f}s",
                    call=call,
                    status=failure.status,
                    retry_after=failure.retry_after,
                    **ids,
                ) from failure.__cause__
            logger.info(
                "%s %s: retrying in %.2fs (attempt %d of %d, MS-RequestId %s)",
                method,
                path,
                delay,
                attempt + 1,
                self.max_attempts,
                request_id,
            )
            self._sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    @staticmethod
    def _log(
        method: str, path: str, status: int | str, request_id: str, sent: float, attempt: int
    ) -> None:
        elapsed_ms = (time.monotonic() - sent) * 1000
        logger.debug(
            "%s %s -> %s (MS-RequestId %s, attempt %d, %.0f ms)",
            method,
            path,
            status,
            request_id,
            attempt,
            elapsed_ms,
        )

    # ------------------------------------------------------------ bodies

    @staticmethod
    def _error_parts(response: httpx.Response) -> tuple[int | str | None, str | None]:
        """The provider's (code, message) from either error body shape, if any."""
        try:
            data = json.loads(response.content.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            text = response.text.strip()
            title = _TITLE.search(text)
            return None, (title.group(1).strip() if title else text[:200] or None)
        if not isinstance(data, dict):
            return None, None
        if "statusCode" in data or "message" in data:
            throttle = ThrottleBody.model_validate(data)
            return throttle.status_code, throttle.message
        error = ErrorBody.model_validate(data)
        return error.code, error.description

    def _permanent(self, call: str, response: httpx.Response, **ids: Any) -> PermanentProviderError:
        code, message = self._error_parts(response)
        status = response.status_code
        reason = response.reason_phrase or ""
        parts = [f"HTTP {status}{' ' + reason if reason else ''}"]
        if code is not None:
            parts.append(f"code {code}")
        text = ", ".join(parts) + (f": {message}" if message else "")
        return PermanentProviderError(
            text, code=code, description=message, call=call, status=status, **ids
        )

    @staticmethod
    def _json(call: str, response: httpx.Response, *, decimal: bool = False) -> Any:
        ids = {
            "request_id": response.request.headers.get("MS-RequestId"),
            "correlation_id": response.request.headers.get("MS-CorrelationId"),
            "status": response.status_code,
        }
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        body = response.content
        if not body.strip():
            raise ProviderResponseError("response body is empty, expected JSON", call=call, **ids)
        try:
            text = body.decode("utf-8-sig")  # some Partner Center answers start with a BOM
            return json.loads(text, parse_float=Decimal if decimal else float)
        except (ValueError, UnicodeDecodeError) as exc:
            snippet = response.text.strip()
            title = _TITLE.search(snippet)
            shown = f"<title>{title.group(1).strip()[:120]}</title>" if title else snippet[:120]
            raise ProviderResponseError(
                f"response is not JSON ({content_type or 'no content type'}: {shown})",
                call=call,
                **ids,
            ) from exc

    @staticmethod
    def _model(
        call: str,
        model: Any,
        data: Any,
        *,
        page: int | None = None,
        response: httpx.Response | None = None,
    ) -> Any:
        adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        try:
            return adapter.validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
            where = f"page {page}: " if page and page > 1 else ""
            ids = {}
            if response is not None:
                ids = {
                    "status": response.status_code,
                    "request_id": response.request.headers.get("MS-RequestId"),
                    "correlation_id": response.request.headers.get("MS-CorrelationId"),
                }
            raise ProviderResponseError(
                f"{where}unexpected response: {problems}{more}", call=call, **ids
            ) from exc
