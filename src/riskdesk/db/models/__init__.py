"""The book's tables.

Money columns are `Micros` (exact integers, see `riskdesk.db.types`) and are named
`*_micros` in SQL; every amount sits next to its currency. Dates that are calendar days
(invoice dates, usage days) are `Date`; moments are `UTCDateTime`.

Provider identifiers (Partner Center customer tenant id, subscription id, order id) are kept
as text next to riskdesk's own integer keys, so a row can always be traced to the provider.
"""

# One module per area; every table is importable from here, as before.
from riskdesk.db.models.audit_events import (  # noqa: F401
    AuditEvent,
)
from riskdesk.db.models.base import (  # noqa: F401
    NAMING,
    Base,
)
from riskdesk.db.models.book import (  # noqa: F401
    Customer,
    ImportRun,
    Invoice,
    InvoiceLine,
    Order,
    OrderStatus,
    Payment,
    PaymentAllocation,
    ProviderInvoiceLine,
    Subscription,
    SubscriptionKind,
    SubscriptionSuspension,
    SuspensionReason,
    UsageRecord,
)
from riskdesk.db.models.cases import (  # noqa: F401
    Case,
    CaseKind,
    CaseStatus,
)
from riskdesk.db.models.collections import (  # noqa: F401
    CollectionState,
    PendingReevaluation,
    PolicyVersion,
    PromiseStatus,
    PromiseToPay,
)
from riskdesk.db.models.disputes import (  # noqa: F401
    DisputeOutcome,
    InvoiceDispute,
)
from riskdesk.db.models.outbox import (  # noqa: F401
    RETIRED_ACTION_KINDS,
    ActionKind,
    ActionStatus,
    OutboxAction,
)
from riskdesk.db.models.provider import (  # noqa: F401
    ProviderFraudEvent,
    SyncState,
)
from riskdesk.db.models.rates import (  # noqa: F401
    ExchangeRate,
    RateText,
)
from riskdesk.db.models.support import (  # noqa: F401
    ServiceRequestRecord,
    ServiceRequestStatus,
    SupportTopicRecord,
)
