"""The sandbox's customer usage spending budget: GET and PATCH ``/v1/customers/{id}/usagebudget``.

Pages ``get-a-customer-s-usage-spending-budget`` and ``update-a-customer-s-usage-spending-budget``
(learn.microsoft.com/partner-center/developer/...): the request body is the whole resource,
documented PascalCase (``{"Amount": 100, "Attributes": {"ObjectType": "SpendingBudget"}}``);
the answer carries ``amount``, ``usageSpendingBudget``, ``attributes`` and ``links.self``.
A customer without a budget answers ``amount: null``. Both pages list the global and US
Government clouds only.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import FastAPI, Request

from riskdesk.providers.records import Link, Links, ResourceAttributes
from riskdesk.providers.records_budget import SpendingBudget
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, wire


def _answer(customer_id: str, amount: Decimal | None, method: str) -> SpendingBudget:
    return SpendingBudget(
        amount=amount,
        usage_spending_budget=amount,
        attributes=ResourceAttributes(object_type="SpendingBudget"),
        links=Links(
            self=Link(uri=f"/v1/customers/{customer_id}/usagebudget", method=method, headers=[])
        ),
    )


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the usage budget routes over `state` to `app`."""

    def known(customer_id: str) -> str:
        customer = state.customers.get(customer_id)
        if customer is None:
            raise ApiError(404, Codes.CUSTOMER_NOT_FOUND, f"customer {customer_id} was not found")
        return customer.id

    @app.get("/v1/customers/{customer_id}/usagebudget")
    def get_usage_budget(customer_id: str):
        with state.lock:
            cid = known(customer_id)
            kept = state.budgets.get(cid)
            return wire(_answer(cid, kept.amount if kept else None, "GET"))

    @app.patch("/v1/customers/{customer_id}/usagebudget")
    async def patch_usage_budget(request: Request, customer_id: str):
        body = await inputs.body(request, SpendingBudget)
        if "amount" not in body.model_fields_set:
            raise ApiError(400, Codes.INVALID_INPUT, "invalid request body: Amount is required")
        amount = body.amount
        if amount is not None and (not amount.is_finite() or amount < 0):
            raise ApiError(
                400, Codes.INVALID_INPUT, f"Amount must be a number of 0 or more: {amount}"
            )
        with state.lock:
            cid = known(customer_id)
            answer = _answer(cid, amount, "PATCH")
            state.budgets[cid] = answer
            state.save()
            return wire(answer)
