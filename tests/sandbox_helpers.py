"""Helpers for the sandbox tests: follow `links.next` the way Partner Center asks."""

from __future__ import annotations

from typing import Any

import httpx


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def next_url(base_url: str, uri: str) -> str:
    """A `links.next` uri (relative to /v1, as Partner Center writes it) as a URL."""
    return base_url + (uri if uri.startswith("/v1/") else "/v1" + uri)


def all_pages(
    client: httpx.Client, base_url: str, path: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every page of a collection, following links.next with its MS-ContinuationToken.

    A bare JSON array (fraud events, as documented) is one page: ``{"items": [...]}``.
    """
    pages = []
    response = client.get(base_url + path, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        if isinstance(body, list):
            return [*pages, {"items": body}]
        pages.append(body)
        following = (body.get("links") or {}).get("next")
        if not following:
            return pages
        headers = {h["key"]: h["value"] for h in following["headers"]}
        assert "MS-ContinuationToken" in headers
        assert "seekOperation=Next" in following["uri"]
        response = client.get(next_url(base_url, following["uri"]), headers=headers)


def first_active(state) -> tuple[str, str]:
    """(tenant, subscription id) of the first active subscription in a sandbox's state."""
    for tenant, subs in state.subscriptions.items():
        for sub in subs.values():
            if sub.status == "active":
                return tenant, sub.id
    raise AssertionError("no active subscription")
