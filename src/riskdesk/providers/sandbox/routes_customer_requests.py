"""The sandbox's service requests of one customer: GET ``/v1/customers/{id}/servicerequests``.

Page ``get-all-service-requests-for-a-customer`` (global and US Government clouds): the
collection of the customer's service requests. The sandbox knows which requests belong to a
customer from `SandboxState.service_request_customers` (seeded; the partner's own requests,
opened with POST ``/v1/servicerequests/{agentLocale}``, belong to no customer).
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, wire


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the customer service request route over `state` to `app`."""

    @app.get("/v1/customers/{customer_id}/servicerequests")
    def list_customer_service_requests(request: Request, customer_id: str):
        with state.lock:
            customer = state.customers.get(customer_id)
            if customer is None:
                raise ApiError(
                    404, Codes.CUSTOMER_NOT_FOUND, f"customer {customer_id} was not found"
                )
            wanted = customer.id.lower()
            items = [
                r
                for rid, r in state.service_requests.items()
                if state.service_request_customers.get(rid, "").lower() == wanted
            ]
        return inputs.paged(request, items, wire, default_size=100, max_size=100)
