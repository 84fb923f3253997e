"""`PartnerCenter`: the Partner Center REST client (global cloud and 21Vianet), over httpx.

Pages followed (learn.microsoft.com/partner-center/developer/...):

- ``partner-center-rest-urls``: base URLs (global ``https://api.partnercenter.microsoft.com``,
  21Vianet ``https://partner.partnercenterapi.microsoftonline.cn``);
  ``partner-center-authentication`` for the authorities (``https://login.microsoftonline.com``, ``https://login.chinacloudapi.cn``).
- ``headers``: ``Authorization``, ``Accept``, ``MS-RequestId`` (unique per call, the *same* value
  on a retry after a timeout, so the call stays idempotent), ``MS-CorrelationId`` (one per
  operation, shared by its pages and its read-then-write), ``MS-Contract-Version: v1``,
  ``X-Locale``, ``MS-PartnerCenter-Application``.
- ``get-a-list-of-customers``: GET /v1/customers?size=N, continuation via ``links.next``.
- ``get-all-of-a-customer-s-subscriptions``, ``get-a-subscription-by-id``: GET
  /v1/customers/{customer}/subscriptions[/{id}].
- ``suspend-a-subscription``, ``reactivate-a-suspended-a-subscription``: PATCH the whole
  subscription resource with ``status`` ``suspended`` / ``active``.
- ``get-invoice-unbilled-consumption-lineitems``: GET /v1/invoices/unbilled/lineitems?
  provider=onetime&invoicelineitemtype=usagelineitems&currencycode=..&period=current&size=..;
  ``get-invoice-billed-consumption-lineitems``: GET /v1/invoices/{id}/lineitems?provider=onetime&
  invoicelineitemtype=usagelineitems&currencycode=..&size=..; the next page is ``links.next``
  (``seekOperation=Next`` in its uri, ``MS-ContinuationToken`` in its headers).
- ``get-invoice-billed-recon-lineitems`` (new commerce): ``invoicelineitemtype=billinglineitems``.
- ``get-fraud-events`` (GET /v1/fraudEvents?EventStatus=..&SubscriptionId=.., a bare JSON
  array; sent with ``X-NewEventsModel: true`` for the new event model's fields),
  ``update-fraud-events-status`` (POST /v1/fraudEvents/subscription/{id}/status).
- ``get-service-request-support-topics`` (GET /v1/servicerequests/supporttopics),
  ``create-a-service-request`` (POST /v1/servicerequests/{agentLocale}),
  ``get-service-request-by-id`` (GET /v1/servicerequests/{id}), ``get-service-requests``
  (GET /v1/servicerequests), ``get-all-service-requests-for-a-customer`` (GET
  /v1/customers/{customer}/servicerequests). These are documented for the global cloud (and US
  Government), not for 21Vianet: on cloud "china" they raise `NotOfferedError` unasked.
- ``get-a-customer-s-usage-spending-budget``, ``update-a-customer-s-usage-spending-budget``:
  GET / PATCH /v1/customers/{customer}/usagebudget, the PATCH body PascalCase as documented
  (``{"Amount": 100, "Attributes": {"ObjectType": "SpendingBudget"}}``); global and US
  Government clouds only (`NotOfferedError` on "china").

Headers, paging, retries (429 with ``Retry-After``, 5xx, timeouts, connection errors) and error
mapping are `PartnerCenterHttp`'s (`pc_http.py`); the clouds are in `clouds.py`. This module
holds the resource methods.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import TypeAdapter

from riskdesk.providers.base import SettableStatus
from riskdesk.providers.clouds import CLOUDS, Cloud, CloudEndpoints, endpoints
from riskdesk.providers.errors import (
    EtagConflictError,
    NotOfferedError,
    PermanentProviderError,
    is_etag_conflict,
    offered,
)
from riskdesk.providers.pc_http import LIST_PAGE_SIZE, USAGE_PAGE_SIZE, PartnerCenterHttp
from riskdesk.providers.records import (
    Customer,
    DailyRatedUsageLineItem,
    FraudEvent,
    FraudEventStatus,
    FraudEventStatusUpdate,
    InvoiceSummary,
    NewServiceRequest,
    OneTimeInvoiceLineItem,
    ServiceRequest,
    ServiceRequestSeverity,
    Subscription,
    SupportTopic,
)
from riskdesk.providers.records_budget import SpendingBudget

__all__ = [
    "CLOUDS",
    "LIST_PAGE_SIZE",
    "USAGE_PAGE_SIZE",
    "Cloud",
    "CloudEndpoints",
    "PartnerCenter",
    "endpoints",
]

logger = logging.getLogger("riskdesk.providers")


def _short(ident: str) -> str:
    return ident if len(ident) <= 12 else ident[:8] + "…"


class PartnerCenter(PartnerCenterHttp):
    """A `Provider` over the Partner Center REST API (or the sandbox, via ``base_url``).

    ``client`` may be injected (tests, shared connection pools); it is then not closed here.
    """

    #: Ask for the fraud events' new event model (``X-NewEventsModel: true``).
    new_events_model: bool = True

    # ------------------------------------------------------------ customers and subscriptions

    def list_customers(self) -> Iterator[Customer]:
        return self._paged("list_customers", "/v1/customers", {"size": self.page_size}, Customer)

    def list_subscriptions(self, customer_id: str) -> Iterator[Subscription]:
        return self._paged(
            f"list_subscriptions(customer {_short(customer_id)})",
            f"/v1/customers/{quote(customer_id, safe='')}/subscriptions",
            None,
            Subscription,
        )

    def get_subscription(self, customer_id: str, subscription_id: str) -> Subscription:
        call = f"get_subscription(customer {_short(customer_id)}, {_short(subscription_id)})"
        return self._get_subscription(call, customer_id, subscription_id, self._new_id())

    def set_subscription_status(
        self, customer_id: str, subscription_id: str, status: SettableStatus
    ) -> Subscription:
        """Read the subscription, then PATCH it with ``status`` and its etag (``If-Match``).

        The PATCH keeps one ``MS-RequestId`` over its retries (a timeout, a dropped connection,
        429, 5xx), so Partner Center answers a retry of an applied change from what it kept,
        and never applies it twice. A stale etag (412, or error code 2055 "Etag is no longer
        valid") means someone changed the subscription after it was read: it is read again
        and, if it is still not ``status``, patched once more, under a new request id and with
        the new etag. A second conflict is raised (`PermanentProviderError`).
        """
        if status not in ("active", "suspended"):
            raise ValueError(f"status must be 'active' or 'suspended', not {status!r}")
        call = (
            f"set_subscription_status(customer {_short(customer_id)}, "
            f"{_short(subscription_id)}, {status})"
        )
        correlation_id = self._new_id()
        for attempt in (1, 2):
            current = self._get_subscription(call, customer_id, subscription_id, correlation_id)
            if current.status == status:
                logger.info("%s: already %s, nothing to do", call, status)
                return current
            body = current.to_wire()
            body["status"] = status
            etag = current.attributes.etag if current.attributes else None
            try:
                response = self._request(
                    call,
                    "PATCH",
                    self._subscription_path(customer_id, subscription_id),
                    json_body=body,
                    headers={"If-Match": etag} if etag else None,
                    correlation_id=correlation_id,
                )
            except PermanentProviderError as exc:
                if not is_etag_conflict(exc):
                    raise
                if attempt == 1:
                    logger.info("%s: the etag was stale (%s); reading it again", call, exc.detail)
                    continue
                raise EtagConflictError(
                    f"the subscription changed again while being set {status}: {exc.detail}",
                    call=call,
                    status=exc.status,
                    request_id=exc.request_id,
                    correlation_id=exc.correlation_id,
                ) from exc
            return self._model(call, Subscription, self._json(call, response), response=response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _subscription_path(self, customer_id: str, subscription_id: str) -> str:
        return (
            f"/v1/customers/{quote(customer_id, safe='')}"
            f"/subscriptions/{quote(subscription_id, safe='')}"
        )

    def _get_subscription(
        self, call: str, customer_id: str, subscription_id: str, correlation_id: str
    ) -> Subscription:
        response = self._request(
            call,
            "GET",
            self._subscription_path(customer_id, subscription_id),
            correlation_id=correlation_id,
        )
        return self._model(call, Subscription, self._json(call, response), response=response)

    # ------------------------------------------------------------ usage and invoices

    def list_usage(
        self, currency: str, *, invoice_id: str | None = None
    ) -> Iterator[DailyRatedUsageLineItem]:
        params: dict[str, Any] = {
            "provider": "onetime",
            "invoicelineitemtype": "usagelineitems",
            "currencycode": currency,
        }
        if invoice_id is None:
            call = f"list_usage(unbilled, {currency})"
            path = "/v1/invoices/unbilled/lineitems"
            params["period"] = "current"
        else:
            call = f"list_usage(invoice {invoice_id}, {currency})"
            path = f"/v1/invoices/{quote(invoice_id, safe='')}/lineitems"
        params["size"] = self.usage_page_size
        return self._paged(call, path, params, DailyRatedUsageLineItem, decimal=True)

    def list_invoices(self) -> Iterator[InvoiceSummary]:
        # learn.microsoft.com/partner-center/developer/get-invoices
        return self._paged("list_invoices", "/v1/invoices", None, InvoiceSummary, decimal=True)

    def get_invoice(self, invoice_id: str) -> InvoiceSummary:
        # learn.microsoft.com/partner-center/developer/get-invoice-by-id
        call = f"get_invoice({invoice_id})"
        response = self._request(
            call, "GET", f"/v1/invoices/{quote(invoice_id, safe='')}", correlation_id=self._new_id()
        )
        data = self._json(call, response, decimal=True)
        return self._model(call, InvoiceSummary, data, response=response)

    def list_invoice_lines(
        self, invoice_id: str, currency: str
    ) -> Iterator[OneTimeInvoiceLineItem]:
        params = {
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": currency,
            "size": self.usage_page_size,
        }
        return self._paged(
            f"list_invoice_lines(invoice {invoice_id}, {currency})",
            f"/v1/invoices/{quote(invoice_id, safe='')}/lineitems",
            params,
            OneTimeInvoiceLineItem,
            decimal=True,
        )

    # ------------------------------------------------------------ fraud events

    def list_fraud_events(
        self, status: FraudEventStatus | None = None, subscription_id: str | None = None
    ) -> Iterator[FraudEvent]:
        params: dict[str, Any] = {}
        if status is not None:
            params["EventStatus"] = status
        if subscription_id is not None:
            params["SubscriptionId"] = subscription_id
        what = ", ".join(
            x for x in (status, subscription_id and f"subscription {subscription_id}") if x
        )
        # The new event model's fields (eventType, severity, ...) come only with this header.
        headers = {"X-NewEventsModel": "true"} if self.new_events_model else None
        return self._paged(
            f"list_fraud_events({what})", "/v1/fraudEvents", params, FraudEvent, headers=headers
        )

    def update_fraud_events(
        self,
        subscription_id: str,
        event_ids: list[str],
        status: FraudEventStatus,
        resolved_reason: Literal["Fraud", "Ignore"] | None = None,
    ) -> list[FraudEvent]:
        call = f"update_fraud_events(subscription {subscription_id}, {status})"
        body = FraudEventStatusUpdate(
            event_ids=list(event_ids), event_status=status, resolved_reason=resolved_reason
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        # update-fraud-events-status documents the body PascalCase: EventIds, EventStatus, ...
        body = {k[:1].upper() + k[1:]: v for k, v in body.items()}
        response = self._request(
            call,
            "POST",
            f"/v1/fraudEvents/subscription/{quote(subscription_id, safe='')}/status",
            json_body=body,
            correlation_id=self._new_id(),
        )
        data = self._json(call, response)
        items = data.get("items") if isinstance(data, dict) else data
        return self._model(call, TypeAdapter(list[FraudEvent]), items, response=response)

    # ------------------------------------------------------------ service requests

    def _offers(self, feature: str, call: str) -> None:
        if not offered(feature, self.cloud):
            raise NotOfferedError(feature, self.cloud, call=call)

    def list_support_topics(self) -> Iterator[SupportTopic]:
        self._offers("service_requests", "list_support_topics")
        return self._paged(
            "list_support_topics", "/v1/servicerequests/supporttopics", None, SupportTopic
        )

    def create_service_request(
        self,
        title: str,
        description: str,
        severity: ServiceRequestSeverity,
        support_topic_id: str,
    ) -> ServiceRequest:
        call = f"create_service_request({title[:40]!r})"
        self._offers("service_requests", call)
        body = NewServiceRequest(
            title=title,
            description=description,
            severity=severity,
            support_topic_id=str(support_topic_id),
        ).to_wire()
        response = self._request(
            call,
            "POST",
            f"/v1/servicerequests/{quote(self.locale, safe='')}",
            json_body=body,
            correlation_id=self._new_id(),
        )
        return self._model(call, ServiceRequest, self._json(call, response), response=response)

    def get_service_request(self, request_id: str) -> ServiceRequest:
        call = f"get_service_request({request_id})"
        self._offers("service_requests", call)
        response = self._request(
            call,
            "GET",
            f"/v1/servicerequests/{quote(request_id, safe='')}",
            correlation_id=self._new_id(),
        )
        return self._model(call, ServiceRequest, self._json(call, response), response=response)

    def list_service_requests(self) -> Iterator[ServiceRequest]:
        self._offers("service_requests", "list_service_requests")
        return self._paged("list_service_requests", "/v1/servicerequests", None, ServiceRequest)

    def list_customer_service_requests(self, customer_id: str) -> Iterator[ServiceRequest]:
        call = f"list_customer_service_requests(customer {_short(customer_id)})"
        self._offers("service_requests", call)
        return self._paged(
            call,
            f"/v1/customers/{quote(customer_id, safe='')}/servicerequests",
            None,
            ServiceRequest,
        )

    # ------------------------------------------------------------ usage spending budget

    def get_usage_budget(self, customer_id: str) -> SpendingBudget:
        call = f"get_usage_budget(customer {_short(customer_id)})"
        self._offers("usage_budget", call)
        response = self._request(
            call, "GET", self._budget_path(customer_id), correlation_id=self._new_id()
        )
        data = self._json(call, response, decimal=True)
        return self._model(call, SpendingBudget, data, response=response)

    def update_usage_budget(self, customer_id: str, amount: Decimal | None) -> SpendingBudget:
        call = f"update_usage_budget(customer {_short(customer_id)})"
        self._offers("usage_budget", call)
        body: dict[str, Any] = {"Amount": None if amount is None else _number(amount)}
        body["Attributes"] = {"ObjectType": "SpendingBudget"}
        response = self._request(
            call,
            "PATCH",
            self._budget_path(customer_id),
            json_body=body,
            correlation_id=self._new_id(),
        )
        data = self._json(call, response, decimal=True)
        return self._model(call, SpendingBudget, data, response=response)

    @staticmethod
    def _budget_path(customer_id: str) -> str:
        return f"/v1/customers/{quote(customer_id, safe='')}/usagebudget"


def _number(amount: Decimal) -> int | float:
    """A budget amount as the JSON number the documented body shows (``100``)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)
