"""Webhooks: POST a JSON payload with an ``Idempotency-Key`` header the receiver can dedupe on.

The contract (README, "Webhooks"): one ``POST`` of ``application/json`` to the URL as written,
with ``Idempotency-Key`` (the outbox action's key, the same on every attempt) and
``User-Agent: riskdesk``. A 2xx answer is delivered. 408, 429, 5xx, a timeout or a connection
error is transient (the executor tries again later, no sooner than a ``Retry-After`` in
seconds or as an HTTP-date, at most a day). Any other answer is permanent, redirects
included: they are not followed, since the body (a customer's facts) and the key would go to
a URL nobody configured, and 301/302/303 would turn the POST into a GET without the body; the
error names the ``Location`` so the URL can be corrected. Errors name the URL's scheme, host
and port only: a webhook URL's path or query often is its secret.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from riskdesk.errors import UnavailableError

#: The answers worth trying again: the receiver timed out, asked us to slow down, or failed.
TRANSIENT_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
#: The longest ``Retry-After`` honoured (a day): a larger one is read as this.
RETRY_AFTER_MAX = 86_400.0


class WebhookError(UnavailableError):
    pass


class TransientWebhookError(WebhookError):
    """Timeout, connection error, 408, 429 or 5xx: the same request may succeed later.

    ``retry_after`` is the receiver's ``Retry-After`` in seconds, when it gave one; the
    executor waits at least that long before the next attempt.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentWebhookError(WebhookError):
    """Any other non-2xx answer (redirects included), or a bad URL."""


class WebhookSender(Protocol):
    def __call__(
        self, url: str, payload: dict[str, Any], key: str, timeout: float = 10.0
    ) -> dict[str, Any]: ...


def _where(url: str) -> str:
    """The URL without its path, query or credentials: what an error may show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "(URL without a scheme)"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds (delta-seconds or an HTTP-date); None if absent/bad.

    At most `RETRY_AFTER_MAX`: a receiver asking for a year (or 1e20 s) is retried tomorrow.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return min(max(0.0, seconds), RETRY_AFTER_MAX) if seconds == seconds else None  # NaN
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), RETRY_AFTER_MAX)


def post_webhook(
    url: str,
    payload: dict[str, Any],
    key: str,
    timeout: float = 10.0,
    *,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """POST `payload` as JSON to `url`; returns ``{"status": <code>}`` on a 2xx answer.

    Raises TransientWebhookError (try again) or PermanentWebhookError (do not); see the module.
    """
    where = _where(url)
    headers = {"Idempotency-Key": key, "User-Agent": "riskdesk"}
    try:
        if client is not None:
            response = client.post(
                url, json=payload, headers=headers, timeout=timeout, follow_redirects=False
            )
        else:
            response = httpx.post(
                url, json=payload, headers=headers, timeout=timeout, follow_redirects=False
            )
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise TransientWebhookError(f"webhook to {where}: {type(exc).__name__}: {exc}") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise PermanentWebhookError(
            f"webhook to {where}: {type(exc).__name__}: {str(exc).replace(url, where)}"
        ) from exc
    code = response.status_code
    if 200 <= code < 300:
        return {"status": code}
    message = f"webhook to {where}: HTTP {code}"
    if response.is_redirect or 300 <= code < 400:
        location = response.headers.get("Location")
        target = location if location else "nowhere (no Location header)"
        raise PermanentWebhookError(
            f"{message}: redirects to {target}; redirects are not followed, "
            "so set the webhook's URL to where the receiver now is"
        )
    text = response.text[:200].strip()
    if text:
        message = f"{message}: {text}"
    if code in TRANSIENT_STATUS:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is not None:
            message = f"{message} (Retry-After {retry_after:g} s)"
        raise TransientWebhookError(message, retry_after=retry_after)
    raise PermanentWebhookError(message)
