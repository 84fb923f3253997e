"""What the crash matrix compares (tests/test_crash_matrix.py): a canonical snapshot of the
book (every table, ids and timestamps left out, foreign keys as natural keys), of the
sandbox's subscriptions and of the Message-IDs in the mail sink, and the differences of two."""

from __future__ import annotations

import json
import mailbox
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from riskdesk.db.engine import make_engine
from riskdesk.db.models import Base as ModelBase
from riskdesk.db.types import UTCDateTime
from riskdesk.providers.sandbox import SandboxState

#: Audit events a run again after a kill adds by design (one more run; the recovery itself).
NOT_COMPARED_EVENTS = {"action.recovered", "action.uncertain", "collections.run", "sync.completed"}


def _status(sub: Any) -> str:
    return str(getattr(sub.status, "value", sub.status))


def _natural_keys(connection) -> dict[str, dict[Any, Any]]:
    """Surrogate ids of the rows foreign keys point at -> what names them."""
    keys = {
        "customers": "provider_customer_id",
        "subscriptions": "provider_subscription_id",
        "invoices": "number",
        "payments": "reference",
    }
    return {
        table: dict(connection.execute(text(f"SELECT id, {column} FROM {table}")).all())
        for table, column in keys.items()
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, list):
        return json.dumps(value, default=str)
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    return value


def book_snapshot(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            names = _natural_keys(connection)
            tables: dict[str, Any] = {}
            for table in ModelBase.metadata.sorted_tables:
                if table.name == "audit_events":
                    events = Counter(connection.execute(select(table.c.action)).scalars())
                    tables[table.name] = Counter(
                        {k: v for k, v in events.items() if k not in NOT_COMPARED_EVENTS}
                    )
                    continue
                if table.name == "outbox_actions":
                    tables[table.name] = sorted(
                        connection.execute(
                            select(table.c.idempotency_key, table.c.kind, table.c.status)
                        ).all()
                    )
                    continue
                columns = [
                    c
                    for c in table.columns
                    if c.name != "id"
                    and not isinstance(c.type, UTCDateTime)
                    and not (table.name == "pending_reevaluations" and c.name == "cause")
                ]
                rows = []
                for row in connection.execute(select(*columns)):
                    shown = []
                    for column, value in zip(columns, row, strict=True):
                        target = next(iter(column.foreign_keys), None)
                        if target is not None and target.column.table.name in names:
                            value = names[target.column.table.name].get(value, value)
                        if table.name == "subscription_suspensions" and column.name == "note":
                            # names the action by id; PostgreSQL skips the sequence values a
                            # killed transaction took, so the ids differ, not the actions
                            value = re.sub(r"outbox action \d+", "outbox action #", value or "")
                        if table.name == "import_runs" and column.name == "file_name":
                            value = Path(value).name  # a temporary directory per command
                        if table.name == "sync_state" and row.stream == "last_sync":
                            value = "(the last invocation's report)"
                        shown.append(_plain(value))
                    rows.append(tuple(shown))
                tables[table.name] = sorted(rows, key=repr)
            return tables
    finally:
        engine.dispose()


def provider_snapshot(state: SandboxState) -> dict[tuple[str, str], tuple[str, Any]]:
    return {
        (tenant, sub_id): (_status(sub), sub.quantity)
        for tenant, subs in state.subscriptions.items()
        for sub_id, sub in subs.items()
    }


def mail_snapshot(maildir: Path) -> Counter:
    if not maildir.exists():
        return Counter()
    return Counter(m["Message-ID"] for m in mailbox.Maildir(maildir, create=False))


def differences(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Per table that differs: (only after the kill, only in the reference)."""
    shown = {}
    for table in sorted(set(got) | set(expected)):
        a, b = got.get(table), expected.get(table)
        if a != b:
            if isinstance(a, Counter) and isinstance(b, Counter):
                shown[table] = (a - b, b - a)
            else:
                sa, sb = set(a or ()), set(b or ())
                shown[table] = (sorted(sa - sb, key=repr)[:5], sorted(sb - sa, key=repr)[:5])
    return shown
