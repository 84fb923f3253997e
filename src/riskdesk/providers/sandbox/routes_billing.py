"""The sandbox's invoices and their usage line items (billed, and unbilled for the period).

As documented: ``GET /v1/invoices/{id}`` (page ``get-invoice-by-id``); line items by query
(``?provider=onetime&invoicelineitemtype=usagelineitems``) or by path
(``/v1/invoices/{id}/lineitems/{billing-provider}/{invoice-line-item-type}`` with ``size``
and ``offset``, page ``get-invoiceline-items``). Billing providers and line item types are
read in any documented spelling (``OneTime``, ``onetime``, ``one_time``); the answers use
the spellings the response examples print (``billingProvider`` ``one_time``,
``invoiceLineItemType`` ``billing_line_items``, ``documentType`` ``invoice``). The legacy
``office`` and ``azure`` providers are documented values: the sandbox keeps no such lines
and answers them with an empty collection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request

from riskdesk.providers.records import (
    InvoiceDetail,
    InvoiceSummary,
    Link,
    Links,
    ResourceAttributes,
    enum_key,
)
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import Invoice, SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, wire


def invoice_wire(invoice: Invoice) -> dict[str, Any]:
    """An invoice summary, with the link to its usage lines."""
    lines = f"/invoices/{invoice.id}/lineitems/OneTime/UsageLineItems?size=2000"
    summary = InvoiceSummary(
        id=invoice.id,
        invoice_date=datetime.fromisoformat(invoice.invoice_date).replace(tzinfo=UTC),
        invoice_type="OneTime",
        document_type="invoice",
        currency_code=invoice.currency,
        total_charges=invoice.total,
        paid_amount=Decimal(0),
        invoice_details=[
            InvoiceDetail(
                invoice_line_item_type="usage_line_items",
                billing_provider="one_time",
                links=Links.model_validate({"self": Link(uri=lines, method="GET", headers=[])}),
                attributes=ResourceAttributes(object_type="InvoiceDetail"),
            )
        ],
        attributes=ResourceAttributes(object_type="Invoice"),
    )
    return wire(summary)


def register(app: FastAPI, state: SandboxState) -> None:
    """Add the invoice routes over `state` to `app`."""

    @app.get("/v1/invoices")
    def list_invoices(request: Request):
        invoices = sorted(state.invoices().values(), key=lambda i: (i.invoice_date, i.id))
        return inputs.paged(request, invoices, invoice_wire, default_size=100, max_size=1000)

    def invoice_or_404(invoice_id: str) -> Invoice:
        found = state.invoices().get(invoice_id)
        if found is None:
            raise ApiError(404, Codes.INVOICE_NOT_FOUND, f"invoice {invoice_id} was not found")
        return found

    @app.get("/v1/invoices/{invoice_id}")
    def get_invoice(invoice_id: str):
        with state.lock:
            return invoice_wire(invoice_or_404(invoice_id))

    @app.get("/v1/invoices/{invoice_id}/lineitems/{billing_provider}/{line_item_type}")
    def invoice_line_items_by_path(
        request: Request, invoice_id: str, billing_provider: str, line_item_type: str
    ):
        currency = inputs.param(request, "currencycode")
        return line_items(request, invoice_id, billing_provider, line_item_type, currency)

    @app.get("/v1/invoices/{invoice_id}/lineitems")
    def invoice_line_items(request: Request, invoice_id: str):
        provider = inputs.required(request, "provider")
        kind = inputs.required(request, "invoicelineitemtype")
        currency = inputs.required(request, "currencycode")
        return line_items(request, invoice_id, provider, kind, currency)

    def line_items(
        request: Request, invoice_id: str, provider_text: str, kind_text: str, currency: str | None
    ) -> dict[str, Any]:
        provider, kind = enum_key(provider_text), enum_key(kind_text)
        if provider not in _PROVIDERS:
            raise ApiError(
                400,
                Codes.INVALID_INPUT,
                f"billing provider must be Office, Azure or OneTime: {provider_text!r}",
            )
        if kind not in ("usagelineitems", "billinglineitems"):
            raise ApiError(
                400,
                Codes.INVALID_INPUT,
                f"invoice line item type must be BillingLineItems or UsageLineItems: {kind_text!r}",
            )
        rows: list[Any] = []
        if invoice_id.lower() == "unbilled":
            period = inputs.required(request, "period").lower()
            if period not in ("current", "previous"):
                raise ApiError(
                    400, Codes.INVALID_INPUT, f"period must be current or previous: {period!r}"
                )
            if currency is None:
                raise ApiError(
                    400, Codes.INVALID_INPUT, "the query parameter 'currencycode' is required"
                )
            with state.lock:
                if provider == "onetime" and period == "current":
                    rows = state.usage_rows(None, currency.upper())
        else:
            with state.lock:
                invoice = invoice_or_404(invoice_id)
                if provider == "onetime":
                    rows = state.usage_rows(invoice_id, (currency or invoice.currency).upper())
        if kind == "billinglineitems":
            rows = []  # the sandbox keeps no license-based (seat) billing lines
        return inputs.paged(
            request,
            rows,
            lambda row: wire(state.usage_item(row)),
            default_size=2000,
            max_size=2000,
            with_token_field=True,
        )


_PROVIDERS = ("onetime", "office", "azure", "marketplace")
