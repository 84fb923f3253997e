"""The customer's usage spending budget on the wire (kept apart from `records` for size).

Pages ``get-a-customer-s-usage-spending-budget`` and ``update-a-customer-s-usage-spending-budget``
(learn.microsoft.com/partner-center/developer/...): GET / PATCH
``/v1/customers/{customer-tenant-id}/usagebudget``.
"""

from __future__ import annotations

from riskdesk.providers.records import Links, ResourceAttributes, WireDecimal, WireModel


class SpendingBudget(WireModel):
    """A customer's usage spending budget.

    The documented request body is PascalCase (``{"Amount": 100, "Attributes": {"ObjectType":
    "SpendingBudget"}}``), the response camelCase with ``amount`` and ``usageSpendingBudget``;
    keys are read in any case. No currency is given: the amount is in the customer's billing
    currency. ``amount`` is None when no budget is set.
    """

    amount: WireDecimal | None = None
    usage_spending_budget: WireDecimal | None = None
    links: Links | None = None
    attributes: ResourceAttributes | None = None
