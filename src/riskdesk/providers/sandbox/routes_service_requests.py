"""The sandbox's service requests: support topics, listing, reading and opening one.

As documented: ``POST /v1/servicerequests/{agentLocale}`` takes the whole ServiceRequest
resource with PascalCase keys (page ``create-a-service-request``: ``Id``, ``Status`` and the
dates are sent as placeholders and ignored); Title, Description, Severity and
SupportTopicId are what it needs. ``GET /v1/customers/{id}/servicerequests`` (page
``get-all-service-requests-for-a-customer``) lists those whose ``organization`` is the
customer (or that `SandboxState.service_request_customers` gives to it when seeded).
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request

from riskdesk.providers.records import NewServiceRequest, ResourceAttributes, ServiceRequest
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, WireResponse, wire


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the service request routes over `state` to `app`."""

    @app.get("/v1/servicerequests/supporttopics")
    def support_topics():
        with state.lock:
            return inputs.collection(list(state.support_topics.values()))

    @app.get("/v1/servicerequests")
    def list_service_requests(request: Request):
        with state.lock:
            requests = list(state.service_requests.values())
        return inputs.paged(request, requests, wire, default_size=100, max_size=100)

    @app.get("/v1/customers/{customer_id}/servicerequests")
    def list_customer_service_requests(request: Request, customer_id: str):
        with state.lock:
            if customer_id not in state.customers:
                raise ApiError(
                    404, Codes.CUSTOMER_NOT_FOUND, f"customer {customer_id} was not found"
                )
            wanted = customer_id.lower()
            # The customer's by the documented `organization`, or as the sandbox was seeded.
            requests = [
                r
                for rid, r in state.service_requests.items()
                if (r.organization is not None and (r.organization.id or "").lower() == wanted)
                or state.service_request_customers.get(rid, "").lower() == wanted
            ]
        return inputs.paged(request, requests, wire, default_size=100, max_size=100)

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
        body = await inputs.body(request, NewServiceRequest)
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
            now = inputs.utc_now()
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
