"""The sandbox's HTTP API: the Partner Center subset riskdesk uses, over FastAPI.

Order of checks on each request: a Content-Length above `inputs.MAX_BODY_BYTES` (413, before
the body is read), latency, then `Authorization: Bearer <token>` (401), then the injected
fault (429 / 5xx, before any state is read or changed), then the endpoint.
`MS-RequestId` and `MS-CorrelationId` are echoed back (or made up when absent).

Behind the front door, the `journal` keeps the endpoint's answer to each client-chosen
`MS-RequestId` of a POST / PUT / PATCH / DELETE and replays it for a repeat without changing
state; every request (those the front door refused too) goes into its request log.

The routes live one module per resource (`routes_customers`, `routes_billing`,
`routes_fraud`, `routes_service_requests`); bodies and error codes in `wire`, query and body
parsing and paging in `inputs`.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskdesk.providers.records import ThrottleBody
from riskdesk.providers.sandbox import (
    inputs,
    routes_billing,
    routes_budget,
    routes_customers,
    routes_fraud,
    routes_service_requests,
)
from riskdesk.providers.sandbox.faults import Faults
from riskdesk.providers.sandbox.journal import Journal, JournalMiddleware
from riskdesk.providers.sandbox.state import SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, WireResponse, error_response


def create_app(
    state: SandboxState,
    *,
    token: str,
    faults: Faults | None = None,
    journal: Journal | None = None,
) -> FastAPI:
    """The sandbox application over `state`; every request needs `Bearer <token>`."""
    faults = faults or Faults()
    journal = journal or Journal()
    journal.drop_after_change = faults.draw_drop
    app = FastAPI(
        title="riskdesk Partner Center sandbox",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        default_response_class=WireResponse,
    )
    app.state.sandbox = state
    app.state.faults = faults
    app.state.journal = journal
    expected = f"bearer {token}".encode()
    # Added before the front door, so it runs inside it: after authentication and faults.
    app.add_middleware(JournalMiddleware, journal=journal)

    @app.middleware("http")
    async def partner_center_front_door(request: Request, call_next):
        request_id = request.headers.get("MS-RequestId") or str(uuid.uuid4())
        correlation_id = request.headers.get("MS-CorrelationId") or str(uuid.uuid4())
        refused: ApiError | None = None
        try:
            declared = inputs.declared_length(request)
        except ApiError as exc:
            refused = exc
        else:
            if declared is not None and declared > inputs.MAX_BODY_BYTES:
                refused = inputs.too_large(declared)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        supplied = request.headers.get("Authorization", "")
        scheme, _, credential = supplied.partition(" ")
        presented = f"{scheme.lower()} {credential.strip()}".encode()
        response: Response
        fault: str | None = None
        if refused is not None:
            fault = "too_large"  # before anything of the body is read
            response = error_response(
                refused.status, refused.code, refused.description, Connection="close"
            )
        elif not secrets.compare_digest(presented, expected):
            fault = "unauthorized"
            response = error_response(
                401,
                Codes.UNAUTHORIZED,
                "Authentication failed: a valid 'Authorization: Bearer <token>' header is required",
                **{"WWW-Authenticate": 'Bearer realm="partner-center-sandbox"'},
            )
        else:
            drawn = faults.draw()
            if drawn.kind == "throttle":
                fault = "throttle"
                body = ThrottleBody(
                    status_code=429,
                    message=(
                        f"Rate limit is exceeded. Try again in {drawn.retry_after_s} seconds."
                    ),
                )
                response = WireResponse(
                    body.to_wire(),
                    status_code=429,
                    headers={"Retry-After": str(drawn.retry_after_s)},
                )
            elif drawn.kind == "error":
                fault = "error"
                description = (
                    "The service is temporarily unavailable (injected fault)"
                    if drawn.status == 503
                    else "An internal error occurred (injected fault)"
                )
                code = Codes.UNAVAILABLE if drawn.status == 503 else Codes.INTERNAL
                response = error_response(drawn.status, code, description)
            else:
                response = await call_next(request)
        if fault is not None:  # the journal never saw it; it changed nothing
            entry = journal.log.start(
                request.method, request.url.path, request.headers.get("MS-RequestId") or None
            )
            entry.status, entry.fault = response.status_code, fault
            journal.log.write(entry)
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

    routes_customers.register(app, state)
    routes_billing.register(app, state)
    routes_fraud.register(app, state)
    routes_service_requests.register(app, state)
    routes_budget.register(app, state)
    return app
