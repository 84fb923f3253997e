"""What a typed value must fit before anything is written: the length of its column.

The lengths are read from the tables (`riskdesk.db.models`), never repeated here, so a value
too long for its column is one error naming the option and its limit on both databases
(SQLite would keep it whole, PostgreSQL refuses it mid-transaction).
"""

from __future__ import annotations

from typing import Any

from riskdesk.db.models import (
    AuditEvent,
    Case,
    InvoiceDispute,
    OutboxAction,
    Payment,
    ServiceRequestRecord,
)
from riskdesk.errors import InvalidInputError


def column_length(column: Any) -> int | None:
    """The declared length of a String column (`Payment.reference`), None when unbounded."""
    return getattr(column.property.columns[0].type, "length", None)


def check_fits(value: str | None, column: Any, option: str) -> None:
    """Refuse `value` (typed as `option`, e.g. `--reference`) when longer than `column`."""
    length = column_length(column)
    if value is not None and length is not None and len(value) > length:
        where = f"{column.class_.__tablename__}.{column.key}"
        raise InvalidInputError(
            f"{option} is {len(value):,} characters long, longer than its database column "
            f"({where}) holds: at most {length} characters"
        )


#: Every column that keeps who acted; an actor must fit the shortest.
ACTOR_COLUMNS = (
    AuditEvent.actor,
    Payment.reversed_by,
    Case.opened_by,
    Case.closed_by,
    InvoiceDispute.opened_by,
    InvoiceDispute.resolved_by,
    OutboxAction.approved_by,
    ServiceRequestRecord.opened_by,
)


def check_actor(actor: str, option: str) -> None:
    """Refuse an actor (`--by`, `--actor`) longer than a column that keeps who acted."""
    shortest = min(ACTOR_COLUMNS, key=lambda c: column_length(c) or 1 << 30)
    check_fits(actor, shortest, option)
