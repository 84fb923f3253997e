"""The sandbox's own state: what the fake Partner Center knows, thread-safe, optionally saved.

Resources are kept as the wire models of `riskdesk.providers.records`, so what the server
answers is what the client parses. Daily rated usage is the exception: a book can hold
hundreds of thousands of usage lines, so they are kept as compact `UsageRow` tuples and
turned into `DailyRatedUsageLineItem`s one page at a time.

Persistence: with a `path`, every change is written to that JSON file atomically (a temp
file in the same directory, then `os.replace`). Usage never changes after seeding, so its
JSON text is rendered once and reused by every save.

Filling a state is left to others: `sample.sample_state` (a small one for tests), the demo's
`riskdesk.demo.sandbox_seed` (from a book). This module imports neither.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from riskdesk.errors import InvalidInputError
from riskdesk.providers.records import (
    Customer,
    DailyRatedUsageLineItem,
    FraudEvent,
    ResourceAttributes,
    ServiceRequest,
    Subscription,
    SupportTopic,
)
from riskdesk.providers.records_budget import SpendingBudget
from riskdesk.providers.sandbox.journal import note_change

STATE_FORMAT = "riskdesk-sandbox-state/1"
PARTNER_ID = "3b33e682-00c3-41ee-9dd2-a548adf56438"  # the sandbox partner's tenant
PARTNER_NAME = "Sandbox Reseller Ltd"
AZURE_PLAN_PRODUCT = ("DZH318Z0BPS6", "0001")


class UsageRow(NamedTuple):
    """One daily rated usage line, compact. Amounts are decimal strings (exact)."""

    customer_id: str  # tenant id
    subscription_id: str  # the Azure plan
    entitlement_id: str | None  # the Azure subscription
    usage_date: str  # ISO date
    meter_id: str
    meter_category: str | None
    meter_name: str | None
    region: str | None
    quantity: str
    unit: str | None
    currency: str
    amount: str
    invoice_number: str | None  # None while unbilled


@dataclass(frozen=True)
class Invoice:
    """A billed invoice the usage lines refer to (its number, date, currency and total)."""

    id: str
    invoice_date: str
    currency: str
    total: Decimal
    lines: int


class SandboxStateError(InvalidInputError):
    """A state file that cannot be read."""


def new_etag() -> str:
    return uuid.uuid4().hex


def _midnight(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC)


class SandboxState:
    """Customers, subscriptions, usage, fraud events, support topics and service requests."""

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.path = path
        self.customers: dict[str, Customer] = {}
        # customer tenant id -> subscription id -> subscription (insertion ordered)
        self.subscriptions: dict[str, dict[str, Subscription]] = {}
        self.subscription_owner: dict[str, str] = {}
        self.usage: list[UsageRow] = []
        self.fraud_events: dict[str, FraudEvent] = {}
        self.support_topics: dict[str, SupportTopic] = {}
        self.service_requests: dict[str, ServiceRequest] = {}
        self.next_service_request = 616_000_000_000_001
        # customer tenant id -> its usage spending budget (routes_budget)
        self.budgets: dict[str, SpendingBudget] = {}
        # service request id -> the customer tenant id it was filed for (a customer's own
        # requests, GET /v1/customers/{id}/servicerequests); the partner's own have none
        self.service_request_customers: dict[str, str] = {}
        self._usage_json: str | None = None
        self._invoices: dict[str, Invoice] | None = None
        self._usage_index: dict[tuple[str, str], list[UsageRow]] | None = None

    # ------------------------------------------------------------------ building

    def add_customer(self, customer: Customer) -> None:
        with self.lock:
            self.customers[customer.id] = customer
            self.subscriptions.setdefault(customer.id, {})

    def add_subscription(self, customer_id: str, subscription: Subscription) -> None:
        with self.lock:
            if customer_id not in self.customers:
                raise KeyError(f"unknown customer {customer_id}")
            if subscription.attributes is None or subscription.attributes.etag is None:
                subscription.attributes = ResourceAttributes(
                    etag=new_etag(), object_type="Subscription"
                )
            self.subscriptions[customer_id][subscription.id] = subscription
            self.subscription_owner[subscription.id] = customer_id

    def add_usage(self, rows: Iterable[UsageRow]) -> None:
        with self.lock:
            self.usage.extend(rows)
            self._usage_json = None
            self._invoices = None
            self._usage_index = None

    def add_fraud_event(self, event: FraudEvent) -> None:
        with self.lock:
            self.fraud_events[event.event_id] = event

    def add_support_topic(self, topic: SupportTopic) -> None:
        with self.lock:
            self.support_topics[str(topic.id)] = topic

    def add_default_support_topics(self) -> None:
        for topic_id, name, description in DEFAULT_SUPPORT_TOPICS:
            self.add_support_topic(
                SupportTopic(
                    id=topic_id,
                    name=name,
                    description=description,
                    attributes=ResourceAttributes(object_type="SupportTopic"),
                )
            )

    # ------------------------------------------------------------------ reading

    def customer_list(self) -> list[Customer]:
        with self.lock:
            return list(self.customers.values())

    def subscription(self, customer_id: str, subscription_id: str) -> Subscription | None:
        with self.lock:
            return self.subscriptions.get(customer_id, {}).get(subscription_id)

    def usage_rows(self, invoice_number: str | None, currency: str) -> list[UsageRow]:
        """Usage rows of one invoice (None: unbilled) in one currency, in book order."""
        with self.lock:
            if self._usage_index is None:
                index: dict[tuple[str, str], list[UsageRow]] = {}
                for row in self.usage:
                    index.setdefault((row.invoice_number or "", row.currency), []).append(row)
                self._usage_index = index
            return self._usage_index.get((invoice_number or "", currency.upper()), [])

    def invoices(self) -> dict[str, Invoice]:
        """Billed invoices named by usage lines, by id (computed once, then cached)."""
        with self.lock:
            if self._invoices is None:
                found: dict[str, tuple[str, str, Decimal, int]] = {}
                for row in self.usage:
                    if not row.invoice_number:
                        continue
                    first, currency, total, lines = found.get(
                        row.invoice_number, (row.usage_date, row.currency, Decimal(0), 0)
                    )
                    found[row.invoice_number] = (
                        min(first, row.usage_date),
                        currency,
                        total + Decimal(row.amount),
                        lines + 1,
                    )
                invoices = {}
                for number, (first, currency, total, lines) in found.items():
                    start = date.fromisoformat(first).replace(day=1)
                    issued = (start + timedelta(days=32)).replace(day=1)
                    invoices[number] = Invoice(number, issued.isoformat(), currency, total, lines)
                self._invoices = invoices
            return self._invoices

    def usage_item(self, row: UsageRow) -> DailyRatedUsageLineItem:
        """The wire line item of one usage row."""
        customer = self.customers.get(row.customer_id)
        profile = customer.company_profile if customer else None
        country = None
        if customer and customer.billing_profile and customer.billing_profile.default_address:
            country = customer.billing_profile.default_address.country
        day = _midnight(row.usage_date)
        month_start = day.replace(day=1)
        month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        quantity = Decimal(row.quantity)
        amount = Decimal(row.amount)
        unit_price = (amount / quantity).quantize(Decimal("0.000001")) if quantity else amount
        product_id, sku_id = AZURE_PLAN_PRODUCT
        return DailyRatedUsageLineItem(
            partner_id=PARTNER_ID,
            partner_name=PARTNER_NAME,
            customer_id=row.customer_id,
            customer_name=profile.company_name if profile else None,
            customer_domain_name=profile.domain if profile else None,
            customer_country=country,
            mpn_id="1234567",
            invoice_number=row.invoice_number or "",
            product_id=product_id,
            sku_id=sku_id,
            availability_id="DZH318XZXPHL",
            sku_name="Azure plan",
            product_name="Azure plan",
            publisher_name="Microsoft",
            publisher_id="",
            subscription_id=row.subscription_id,
            subscription_description="Azure plan",
            charge_start_date=month_start,
            charge_end_date=month_end,
            usage_date=day,
            meter_type=row.unit,
            meter_category=row.meter_category,
            meter_id=row.meter_id,
            meter_sub_category=row.meter_name,
            meter_name=row.meter_name,
            meter_region=row.region,
            unit_of_measure=row.unit,
            resource_location=row.region,
            consumed_service=_consumed_service(row.meter_category),
            unit_type=row.unit,
            quantity=quantity,
            unit_price=unit_price,
            effective_unit_price=unit_price,
            billing_pre_tax_total=amount,
            billing_currency=row.currency,
            pricing_pre_tax_total=amount,
            pricing_currency=row.currency,
            entitlement_id=row.entitlement_id,
            entitlement_description="Azure subscription",
            partner_earned_credit_percentage=Decimal(0),
            charge_type="new",
            invoice_line_item_type="usage_line_items",  # as documented
            billing_provider="marketplace",
            attributes=ResourceAttributes(object_type="DailyRatedUsageLineItem"),
        )

    # ------------------------------------------------------------------ persistence

    def to_document(self, *, usage: bool = True) -> dict[str, Any]:
        """The whole state as JSON-ready data (the state file's content)."""
        with self.lock:
            document = {
                "format": STATE_FORMAT,
                "next_service_request": self.next_service_request,
                "customers": [c.to_wire() for c in self.customers.values()],
                "subscriptions": {
                    cid: [s.to_wire() for s in subs.values()]
                    for cid, subs in self.subscriptions.items()
                },
                "fraud_events": [e.to_wire() for e in self.fraud_events.values()],
                "support_topics": [t.to_wire() for t in self.support_topics.values()],
                "service_requests": [r.to_wire() for r in self.service_requests.values()],
                "budgets": {cid: b.to_wire() for cid, b in self.budgets.items()},
                "service_request_customers": dict(self.service_request_customers),
                "usage_columns": list(UsageRow._fields),
            }
            if usage:
                document["usage"] = [list(row) for row in self.usage]
            return document

    def save(self) -> None:
        """Write the state to `path` (if any) atomically: temp file, fsync, rename.

        Every change is followed by a save, so this is also where the request being served is
        marked as having changed the state (`journal.note_change`, for the request log)."""
        note_change()
        if self.path is None:
            return
        with self.lock:
            document = self.to_document(usage=False)
            if self._usage_json is None:
                rows = [list(row) for row in self.usage]
                self._usage_json = json.dumps(rows, separators=(",", ":"))
            head = json.dumps(document, separators=(",", ":"))
            # The usage rows' JSON is rendered once; each save splices it in as the last key.
            text = head[:-1] + ',"usage":' + self._usage_json + "}"
            target = Path(self.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise

    @classmethod
    def load(cls, path: Path) -> SandboxState:
        """Read a state file written by `save`; later changes are saved back to it."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SandboxStateError(f"{path}: cannot read sandbox state: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
            raise SandboxStateError(f"{path}: not a sandbox state file ({STATE_FORMAT})")
        state = cls(path=Path(path))
        try:
            for item in document["customers"]:
                state.add_customer(Customer.model_validate(item))
            for cid, subs in document["subscriptions"].items():
                for item in subs:
                    state.add_subscription(cid, Subscription.model_validate(item))
            columns = document.get("usage_columns", list(UsageRow._fields))
            if list(columns) != list(UsageRow._fields):
                raise SandboxStateError(f"{path}: unexpected usage columns {columns}")
            state.add_usage(_usage_row(row) for row in document["usage"])
            for item in document["fraud_events"]:
                state.add_fraud_event(FraudEvent.model_validate(item))
            for item in document["support_topics"]:
                state.add_support_topic(SupportTopic.model_validate(item))
            for item in document["service_requests"]:
                request = ServiceRequest.model_validate(item)
                state.service_requests[str(request.id)] = request
            state.next_service_request = int(document["next_service_request"])
            for cid, item in (document.get("budgets") or {}).items():
                state.budgets[str(cid)] = SpendingBudget.model_validate(item)
            state.service_request_customers = {
                str(k): str(v) for k, v in (document.get("service_request_customers") or {}).items()
            }
        except SandboxStateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SandboxStateError(f"{path}: malformed sandbox state: {exc}") from exc
        return state


_AMOUNT_FIELDS = (UsageRow._fields.index("quantity"), UsageRow._fields.index("amount"))


def _usage_row(values: list[Any]) -> UsageRow:
    """A usage row read back from a state file, repeated strings shared (memory)."""
    if len(values) != len(UsageRow._fields):
        raise ValueError(f"usage row with {len(values)} values: {values!r}")
    return UsageRow(
        *(
            sys.intern(v) if isinstance(v, str) and i not in _AMOUNT_FIELDS else v
            for i, v in enumerate(values)
        )
    )


def _consumed_service(category: str | None) -> str | None:
    return {
        "Virtual Machines": "Microsoft.Compute",
        "Storage": "Microsoft.Storage",
        "Bandwidth": "Microsoft.Network",
        "SQL Database": "Microsoft.Sql",
        "Azure App Service": "Microsoft.Web",
        "Log Analytics": "Microsoft.OperationalInsights",
    }.get(category or "")


DEFAULT_SUPPORT_TOPICS: tuple[tuple[str, str, str], ...] = (
    ("32444671", "Billing", "Invoices, charges and payments"),
    ("32444685", "Azure fraud and misuse", "Suspicious or fraudulent activity on Azure"),
    ("32444700", "Subscription management", "Suspend, reactivate or cancel subscriptions"),
    ("32444712", "Customer account", "Customer tenants and relationships"),
)
