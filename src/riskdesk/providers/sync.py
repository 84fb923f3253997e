"""Pull customers, subscriptions, usage and fraud events from the provider into the book.

Two phases, so a failing or malformed provider leaves the book untouched:

1. **Fetch** everything (the client retries throttling and 5xx, and validates every response;
   a `ProviderError` here stops the sync before anything is written). Usage line items are
   streamed to a temporary CSV in the Partner Center export's column names.
2. **Write** in one transaction: new customers and subscriptions, changed profile fields and
   quantities (each audited), the provider's fraud events (new or changed status, audited),
   customers' usage spending budgets, the status of the open service requests riskdesk
   opened, the support topics cache (`sync_support`), and the usage through the `pc-usage`
   importer (`import_into`), whose row identity makes a re-sync add nothing.

Differences a person must look at are reported and audited, never silently overwritten:
a subscription whose status at the provider differs from the book's (suspended there, active
here), and customers or subscriptions the provider no longer lists. `adopt_provider_status`
takes the provider's status into the book, audited as such.

Incremental where the API allows: Partner Center offers no "changed since" filter for
customers, subscriptions or unbilled usage, so those are read whole and only differences are
written; billed usage is read only for invoices not synced before (`sync_state`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.crashpoints import crashpoint
from riskdesk.db.models import Customer
from riskdesk.imports import import_into
from riskdesk.providers.base import Provider
from riskdesk.providers.sync_fetch import (
    USAGE_COLUMNS,
    Progress,
    Stages,
    fetch_listings,
    write_usage_csv,
)
from riskdesk.providers.sync_support import (
    SupportCounts,
    apply_support,
    fetch_support,
    open_references,
)
from riskdesk.providers.sync_write import (
    Difference,
    SyncReport,
    apply_customers,
    apply_fraud_events,
    apply_subscriptions,
    currency_of,
    read_state,
    set_state,
)

__all__ = [
    "USAGE_COLUMNS",
    "Difference",
    "Progress",
    "SyncReport",
    "mark_invoices_synced",
    "sync_book",
]


def sync_book(
    engine: Engine,
    provider: Provider,
    *,
    adopt_provider_status: bool = False,
    default_currency: str = "USD",
    progress: Progress | None = None,
    actor: str = "sync",
) -> SyncReport:
    """Bring the book up to date with the provider (see the module docstring)."""
    started = time.perf_counter()
    report = SyncReport()
    stage = Stages(progress)

    listings = fetch_listings(provider, stage)
    customers, subscriptions = listings.customers, listings.subscriptions
    fraud_events, invoices = listings.fraud_events, listings.invoices
    report.customers_seen = len(customers)
    report.subscriptions_seen = sum(len(s) for s in subscriptions.values())
    report.fraud_events_seen = len(fraud_events)

    with engine.connect() as connection:
        already = read_state(connection, "billed_invoices").get("ids", [])
        book_currencies = {c for (c,) in connection.execute(select(Customer.currency).distinct())}
        followed = open_references(connection, provider.cloud)
    stage("budgets and service requests", 0, 0)
    support = fetch_support(provider, customers, subscriptions, followed)
    report.not_offered = list(support.not_offered)
    new_invoices = [i for i in invoices if i.id not in set(already)]
    currencies = sorted(
        book_currencies
        | {currency_of(c, default_currency) for c in customers}
        | {i.currency_code for i in invoices if i.currency_code}
    )

    with tempfile.TemporaryDirectory(prefix="riskdesk-sync-") as directory:
        usage_file = Path(directory) / "usage.csv"
        sources: list[tuple[str, str | None]] = [(c, None) for c in currencies]
        sources += [(i.currency_code or default_currency, i.id) for i in new_invoices]
        report.usage_read = write_usage_csv(provider, usage_file, sources, stage)

        crashpoint("sync.after_fetch")
        stage("writing", 0, 1)
        with engine.connect() as connection, connection.begin():
            session = Session(bind=connection)
            try:
                apply_customers(session, customers, default_currency, report, actor)
                apply_subscriptions(session, subscriptions, adopt_provider_status, report, actor)
                crashpoint("sync.mid_write")
                apply_fraud_events(session, fraud_events, report, actor)
                counts = SupportCounts()
                for missing in apply_support(
                    session,
                    support,
                    counts,
                    cloud=provider.cloud,
                    now=datetime.now(UTC),
                    actor=actor,
                ):
                    report.differences.append(Difference(**missing))
                for name, value in vars(counts).items():
                    setattr(report, name, value)
                session.flush()
                imported = import_into(connection, "pc-usage", usage_file, actor=actor)
                report.usage_inserted = imported.rows_inserted
                report.usage_duplicate = imported.rows_duplicate
                report.invoices_synced = len(new_invoices)
                set_state(
                    session,
                    "billed_invoices",
                    {"ids": sorted({*already, *(i.id for i in new_invoices)})},
                )
                report.seconds = round(time.perf_counter() - started, 3)
                set_state(session, "last_sync", _summary(report))
                audit.record(
                    session,
                    actor=actor,
                    action="sync.completed",
                    subject_type="provider",
                    data=_summary(report),
                )
                session.flush()
                crashpoint("sync.before_commit")
            finally:
                session.close()
        crashpoint("sync.after_commit")
        stage("writing", 1, 1)
    return report


def mark_invoices_synced(engine: Engine, invoice_ids: Iterable[str]) -> None:
    """Record that the billed usage of these provider invoices is already in the book.

    For a book that was itself the source of the provider's data (the demo book and its
    sandbox): the next sync then reads only unbilled usage and invoices billed since.
    """
    with engine.begin() as connection:
        session = Session(bind=connection)
        known = read_state(connection, "billed_invoices").get("ids", [])
        set_state(session, "billed_invoices", {"ids": sorted({*known, *invoice_ids})})
        session.flush()
        session.close()


def _summary(report: SyncReport) -> dict[str, Any]:
    data = {k: v for k, v in vars(report).items() if k != "differences"}
    data["differences"] = len(report.differences)
    return data
