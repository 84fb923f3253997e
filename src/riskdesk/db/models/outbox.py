"""The outbox: actions planned by a decider and carried out by the executor."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskdesk.db.models.base import Base, sql_in
from riskdesk.db.types import UTCDateTime


class ActionKind(StrEnum):
    NOTIFY_EMAIL = "notify_email"
    SUSPEND_SUBSCRIPTION = "suspend_subscription"
    REACTIVATE_SUBSCRIPTION = "reactivate_subscription"
    OPEN_REVIEW_CASE = "open_review_case"
    WEBHOOK = "webhook"


class ActionStatus(StrEnum):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Kinds no longer planned whose finished rows stay as history (migration 0004).
RETIRED_ACTION_KINDS = ("block_orders", "unblock_orders")


def _kinds_allowed() -> str:
    values = [k.value for k in ActionKind] + list(RETIRED_ACTION_KINDS)
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class OutboxAction(Base):
    """One intended effect, written in the transaction that decided it (see riskdesk.actions).

    `idempotency_key` makes deciding twice enqueue once. The executor claims a due `pending`
    row (`in_progress`, `claimed_at` = the start of its lease), performs the effect and records
    `done` with `result`, or `pending` again with a later `next_attempt_at`, or `failed`.
    `effect_started_at` is written just before an effect that cannot be repeated safely (an
    e-mail) so a crash inside it is recognised rather than silently repeated.
    """

    __tablename__ = "outbox_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who claimed it: `riskdesk.actions.recovery.Holder` as text (migration 0007).
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    effect_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # "Due pending work": WHERE status = 'pending' AND next_attempt_at <= now ORDER BY it.
        Index("ix_outbox_actions_due", "status", "next_attempt_at", "id"),
        # Stale leases: WHERE status = 'in_progress' AND claimed_at < now - lease; partial, so
        # the many rows that are not in progress cost it nothing (migration 0004).
        Index(
            "ix_outbox_actions_claimed",
            "claimed_at",
            sqlite_where=text("status = 'in_progress'"),
            postgresql_where=text("status = 'in_progress'"),
        ),
        Index("ix_outbox_actions_subscription", "subscription_id"),
        CheckConstraint(f"kind in {_kinds_allowed()}", name="kind"),
        CheckConstraint(f"status in {sql_in(ActionStatus)}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )
