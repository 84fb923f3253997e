"""The sandbox's invoices and their usage line items (billed, and unbilled for the period)."""

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
)
from riskdesk.providers.sandbox import inputs
from riskdesk.providers.sandbox.state import Invoice, SandboxState
from riskdesk.providers.sandbox.wire import ApiError, Codes, wire


def invoice_wire(invoice: Invoice) -> dict[str, Any]:
    """An invoice summary, with the link to its usage lines."""
    lines = (
        f"/invoices/{invoice.id}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems"
        f"&currencycode={invoice.currency}&size=2000"
    )
    summary = InvoiceSummary(
        id=invoice.id,
        invoice_date=datetime.fromisoformat(invoice.invoice_date).replace(tzinfo=UTC),
        invoice_type="OneTime",
        document_type="Invoice",
        currency_code=invoice.currency,
        total_charges=invoice.total,
        paid_amount=Decimal(0),
        invoice_details=[
            InvoiceDetail(
                invoice_line_item_type="UsageLineItems",
                billing_provider="OneTime",
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

    @app.get("/v1/invoices/{invoice_id}/lineitems")
    def invoice_line_items(request: Request, invoice_id: str):
        provider = inputs.required(request, "provider").lower()
        kind = inputs.required(request, "invoicelineitemtype").lower()
        currency = inputs.required(request, "currencycode").upper()
        if provider != "onetime":
            raise ApiError(
                400, Codes.INVALID_INPUT, f"provider {provider!r}: the sandbox serves 'onetime'"
            )
        if kind not in ("usagelineitems", "billinglineitems"):
            raise ApiError(
                400,
                Codes.INVALID_INPUT,
                f"invoicelineitemtype must be usagelineitems or billinglineitems: {kind!r}",
            )
        if invoice_id.lower() == "unbilled":
            period = inputs.required(request, "period").lower()
            if period not in ("current", "previous"):
                raise ApiError(
                    400, Codes.INVALID_INPUT, f"period must be current or previous: {period!r}"
                )
            with state.lock:
                rows = state.usage_rows(None, currency) if period == "current" else []
        else:
            with state.lock:
                if invoice_id not in state.invoices():
                    raise ApiError(
                        404, Codes.INVOICE_NOT_FOUND, f"invoice {invoice_id} was not found"
                    )
                rows = state.usage_rows(invoice_id, currency)
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
