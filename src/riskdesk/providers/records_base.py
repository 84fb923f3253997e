"""The base of the Partner Center wire records (`records`): the types every record uses.

`WireModel` (camelCase aliases, keys read in any case, unknown fields kept, numbers read as
text where a string is documented), UTC times (`UtcDatetime`; `ZonelessUtcDatetime` for
times written without a zone, as the fraud event pages print them), exact amounts
(`WireDecimal`), and the enumerations read in any documented spelling.

Conventions

- Python attributes are snake_case; on the wire every field has the camelCase name the API
  uses (``alias_generator=to_camel``), and models accept either spelling
  (``populate_by_name=True``). Serialise with ``model_dump(mode="json", by_alias=True)``
  (`to_wire()` does exactly that, leaving out fields that were never set).
- Keys are read case-insensitively: the documented request bodies are PascalCase
  (``"Status"``, ``"Attributes": {"Etag": ...}``), responses camelCase, and some responses
  (suspend / reactivate) PascalCase too. ``id``, ``ID`` and ``Id`` are one field.
- ``extra="allow"``: fields riskdesk does not model are kept (under the name they came with)
  and written back unchanged. That matters for suspend / reactivate, which PATCH the *whole*
  subscription resource.
- Only the fields riskdesk cannot work without are required; a response missing one is a
  malformed response (the client raises `ProviderResponseError`). The documented suspend
  body and response carry no ``offerId``, so a subscription's ``offer_id`` is optional.
- Amounts in usage and invoice lines are `Decimal` (the client parses JSON numbers of those
  responses as Decimal, so no float ever touches money). Numbers may come as numeric
  strings, and a number where a string is documented (``mpnId``, ``resellerMpnId``) is
  read as its text.
- Times are tz-aware UTC in Python. A time without a zone (fraud events'
  ``2021-12-08T00:25:45.69``, service requests' ``0001-01-01T00:00:00``) is UTC.
- Enumerations are read in any case; documented spellings differ between pages and eras
  (``billingProvider`` ``one_time`` / ``OneTime``, ``invoiceLineItemType``
  ``billing_line_items`` / ``BillingLineItems``, ``documentType`` ``invoice``): compare
  them with `enum_key`. Service request ``severity`` / ``status`` may be the .NET SDK's
  enum numbers (``0``, ``1``), as the ``get-all-service-requests-for-a-customer`` example
  shows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from riskdesk.providers.wire_keys import any_case_keys, lower_enum, numbered_enum

# An amount: exact in Python, a JSON number on the wire (as Partner Center sends it).
WireDecimal = Annotated[
    Decimal, PlainSerializer(lambda v: float(v), return_type=float, when_used="json")
]


def _utc(value: datetime) -> datetime:
    """A time as tz-aware UTC; one without a zone is taken as UTC (as Partner Center means)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 and the like
        return value.replace(tzinfo=UTC)


def _zoneless(value: datetime) -> str:
    return _utc(value).replace(tzinfo=None).isoformat()


#: A time: tz-aware UTC in Python, ISO 8601 with ``Z`` on the wire.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
#: A time written without a zone (UTC), as the fraud event pages print them.
ZonelessUtcDatetime = Annotated[
    datetime, AfterValidator(_utc), PlainSerializer(_zoneless, return_type=str, when_used="json")
]

SubscriptionStatus = Annotated[
    Literal["active", "suspended", "deleted", "pending", "expired", "disabled"],
    BeforeValidator(lower_enum),
]
BillingCycle = Annotated[
    Literal["monthly", "annual", "none", "one_time", "triennial", "unknown"],
    BeforeValidator(lower_enum),
]
BillingType = Annotated[Literal["license", "usage", "none", "unknown"], BeforeValidator(lower_enum)]
FraudEventStatus = Literal["Active", "Investigating", "Resolved"]
_FRAUD_STATUS = {"active": "Active", "investigating": "Investigating", "resolved": "Resolved"}
WireFraudEventStatus = Annotated[
    FraudEventStatus,
    BeforeValidator(lambda v: _FRAUD_STATUS.get(v.lower(), v) if isinstance(v, str) else v),
]
ServiceRequestSeverity = Literal["unknown", "minimal", "moderate", "critical"]
ServiceRequestStatus = Literal["none", "open", "closed", "attention_needed"]
# The .NET SDK's enum order (the numbers the get-all-service-requests-for-a-customer page shows).
_SEVERITY_NUMBERS = ("unknown", "critical", "moderate", "minimal")
_STATUS_NUMBERS = ("none", "open", "closed", "attention_needed")
WireServiceRequestSeverity = Annotated[
    ServiceRequestSeverity, BeforeValidator(numbered_enum(_SEVERITY_NUMBERS))
]
WireServiceRequestStatus = Annotated[
    ServiceRequestStatus, BeforeValidator(numbered_enum(_STATUS_NUMBERS))
]

#: Fields of a fraud event that only the new event model (``X-NewEventsModel: true``) has.
FRAUD_NEW_MODEL_FIELDS = frozenset(
    {
        "event_type",
        "severity",
        "confidence_level",
        "display_name",
        "description",
        "country",
        "value_added_reseller_tenant_id",
        "value_added_reseller_friendly_name",
        "subscription_name",
        "affected_resources",
        "additional_details",
        "is_test",
        "activity_logs",
    }
)


class WireModel(BaseModel):
    """Base of every wire record: camelCase aliases, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        coerce_numbers_to_str=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _keys_in_any_case(cls, data: Any) -> Any:
        return any_case_keys(cls, data)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict the API would send: camelCase, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ResourceAttributes(WireModel):
    object_type: str | None = None
    etag: str | None = None
