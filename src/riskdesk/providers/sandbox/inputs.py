"""Reading the sandbox's requests: query parameters, JSON bodies, and one page of a collection.

Bodies are limited: at most `MAX_BODY_BYTES` (a larger Content-Length is refused with 413
before anything is read, by the front door in `app`, and a chunked body is cut off at the
limit while it streams in) and JSON nested at most `MAX_JSON_DEPTH` deep (400). Both answer
the documented error body `{code, description, data, source}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from pydantic import ValidationError

from riskdesk.providers.records import (
    Collection,
    Link,
    LinkHeader,
    Links,
    ResourceAttributes,
    WireModel,
)
from riskdesk.providers.sandbox.paging import BadToken, decode_token, encode_token, page
from riskdesk.providers.sandbox.wire import CONTINUATION_HEADER, ApiError, Codes, wire

M = TypeVar("M", bound=WireModel)

#: The largest request body the sandbox reads (the requests riskdesk sends are < 10 KiB).
MAX_BODY_BYTES = 1024 * 1024
#: How deep a request's JSON may nest (the documented resources nest 4 levels).
MAX_JSON_DEPTH = 32

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def too_large(size: int) -> ApiError:
    return ApiError(
        413,
        Codes.TOO_LARGE,
        f"the request body has {size:,} bytes or more: at most {MAX_BODY_BYTES:,} are accepted",
    )


def declared_length(request: Request) -> int | None:
    """The Content-Length header as a number (None when absent); a bad one is a 400."""
    text = request.headers.get("content-length")
    if text is None:
        return None
    if not text.strip().isdigit():
        raise ApiError(400, Codes.INVALID_INPUT, f"Content-Length is not a number: {text!r}")
    return int(text)


async def _read_capped(request: Request) -> bytes:
    declared = declared_length(request)
    if declared is not None and declared > MAX_BODY_BYTES:
        raise too_large(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw` (strings skipped); no recursion."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def query(request: Request) -> dict[str, tuple[str, str]]:
    """Query parameters by lower-cased name: (name as sent, value). Names are case-insensitive."""
    return {key.lower(): (key, value) for key, value in request.query_params.items()}


def param(request: Request, name: str) -> str | None:
    found = query(request).get(name.lower())
    return found[1] if found else None


def required(request: Request, name: str) -> str:
    value = param(request, name)
    if value is None or value == "":
        raise ApiError(400, Codes.INVALID_INPUT, f"the query parameter {name!r} is required")
    return value


async def body(request: Request, model: type[M]) -> M:
    raw = await _read_capped(request)
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(
            400,
            Codes.INVALID_INPUT,
            f"the request body nests {depth:,} levels deep: at most {MAX_JSON_DEPTH} are accepted",
        )
    try:
        data = json.loads(raw or b"null", parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
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


def paged(
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
    the `MS-ContinuationToken` header from the link. A first request may start at the
    documented 0-based ``offset``.
    """
    params_in = query(request)
    size_text = params_in.get("size", ("size", str(default_size)))[1]
    try:
        size = int(size_text)
    except ValueError:
        raise ApiError(
            400, Codes.INVALID_INPUT, f"size must be an integer: {size_text!r}"
        ) from None
    if size < 1:
        raise ApiError(400, Codes.INVALID_INPUT, f"size must be at least 1: {size}")
    size = min(size, max_size)
    filters = {k: v for k, v in params_in.items() if k not in ("size", "seekoperation", "offset")}
    scope = request.url.path + "?" + urlencode(sorted((k, v[1]) for k, v in filters.items()))
    seek = params_in.get("seekoperation", ("", ""))[1]
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
    elif "offset" in params_in:  # the documented 0-based offset (size={size}&offset={offset})
        text = params_in["offset"][1]
        if not text.strip().isdigit():
            raise ApiError(400, Codes.INVALID_INPUT, f"offset must be 0 or more: {text!r}")
        offset = int(text)
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


def collection(items: Sequence[WireModel]) -> dict[str, Any]:
    envelope = Collection[Any](
        total_count=len(items), items=[], attributes=ResourceAttributes(object_type="Collection")
    )
    data = envelope.to_wire()
    data["items"] = [wire(item) for item in items]
    return data


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
