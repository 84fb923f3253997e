"""The Partner Center client's HTTP layer: one request with retries, paging, error mapping.

Headers (``headers`` page): ``Authorization``, ``Accept``, ``MS-RequestId`` (unique per call, the
*same* value on a retry after a timeout, so the call stays idempotent), ``MS-CorrelationId`` (one
per operation, shared by its pages and its read-then-write), ``MS-Contract-Version: v1``,
``X-Locale``, ``MS-PartnerCenter-Application``. Lists continue via ``links.next`` (its uri, and
the headers it names such as ``MS-ContinuationToken``).

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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Self, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from riskdesk.providers.auth import TokenProvider
from riskdesk.providers.clouds import Cloud, endpoints
from riskdesk.providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderResponseError,
    TransientProviderError,
)
from riskdesk.providers.records import Collection, ErrorBody, Link, ThrottleBody

logger = logging.getLogger("riskdesk.providers")

M = TypeVar("M", bound=BaseModel)

USAGE_PAGE_SIZE = 2000
LIST_PAGE_SIZE = 500
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


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


class PartnerCenterHttp:
    """Requests to Partner Center: headers, paging, retries, error mapping and body parsing.

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PartnerCenter(cloud={self.cloud!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------ paging

    def _paged(
        self,
        call: str,
        path: str,
        params: dict[str, Any] | None,
        model: type[M],
        *,
        decimal: bool = False,
        headers: dict[str, str] | None = None,
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
                headers={**(headers or {}), **extra_headers},
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
        # One request id, one body: the bytes are made once, so a retry under the same id can
        # never carry a different change.
        content = json.dumps(json_body, default=str).encode() if json_body is not None else None
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
