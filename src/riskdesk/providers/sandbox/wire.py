"""The sandbox's response bodies: JSON from the wire models, error bodies and codes.

Every response body is built from the wire models in `riskdesk.providers.records`
(`to_wire()`), so the client and the sandbox agree by construction. Money and quantities in
usage lines go out as JSON numbers written from the exact decimal (never through a float),
as Partner Center sends them.

Error bodies: `{code, description, data, source}` (`ErrorBody`); a 429 answers
`{statusCode, message}` (`ThrottleBody`) with `Retry-After`. Codes are strings (the
documented type); the values are the sandbox's own, listed in `Codes`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

from riskdesk.providers.records import ErrorBody, WireModel, wire_alias

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
    ETAG_NO_LONGER_VALID = "2055"  # error-codes page: "Etag is no longer valid"
    REQUEST_ID_REUSED = "409"
    TOO_LARGE = "413"
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
