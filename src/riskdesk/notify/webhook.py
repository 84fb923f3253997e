"""Webhooks: POST a JSON payload with an ``Idempotency-Key`` header the receiver can dedupe on."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from riskdesk.errors import UnavailableError


class WebhookError(UnavailableError):
    pass


class TransientWebhookError(WebhookError):
    """Timeout, connection error, 408, 429 or 5xx: the same request may succeed later."""


class PermanentWebhookError(WebhookError):
    """Any other non-2xx answer, or a bad URL."""


class WebhookSender(Protocol):
    def __call__(
        self, url: str, payload: dict[str, Any], key: str, timeout: float = 10.0
    ) -> dict[str, Any]: ...


def post_webhook(
    url: str,
    payload: dict[str, Any],
    key: str,
    timeout: float = 10.0,
    *,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """POST `payload` as JSON to `url`; returns ``{"status": <code>}`` on a 2xx answer."""
    headers = {"Idempotency-Key": key, "User-Agent": "riskdesk"}
    try:
        if client is not None:
            response = client.post(url, json=payload, headers=headers, timeout=timeout)
        else:
            response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise TransientWebhookError(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise PermanentWebhookError(f"webhook {url}: {exc}") from exc
    code = response.status_code
    if 200 <= code < 300:
        return {"status": code}
    message = f"webhook {url}: HTTP {code}: {response.text[:200]}"
    if code in (408, 429) or code >= 500:
        raise TransientWebhookError(message)
    raise PermanentWebhookError(message)
