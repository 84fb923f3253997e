"""What each kind of outbox action carries: one pydantic model per kind, checked at enqueue.

The models name the fields an effect reads; other fields (the stage, the policy version, what
a notice says) pass through unchanged. `origin` names the decider that enqueued the action
("collections", "fraud", a person): a decider's staleness rule judges only its own actions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from riskdesk.db.models import ActionKind, SuspensionReason


class ActionPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    origin: str | None = None
    transition: str | None = None
    stage: str | None = None
    policy_version: str | None = None
    as_of: str | None = None
    facts: dict[str, Any] | None = None


class SuspendPayload(ActionPayload):
    reason: SuspensionReason = SuspensionReason.NON_PAYMENT
    note: str | None = None


class ReactivatePayload(ActionPayload):
    reason: SuspensionReason = SuspensionReason.NON_PAYMENT


class NotifyEmailPayload(ActionPayload):
    template: str
    to: str | None = None
    reason: str | None = None


class WebhookPayload(ActionPayload):
    url: str
    body: Any = None
    timeout: float = 10.0
    reason: str | None = None


class ReviewCasePayload(ActionPayload):
    reason: str | None = None


#: The payload model of each kind, as the composition root registers them.
PAYLOAD_MODELS: dict[str, type[ActionPayload]] = {
    ActionKind.SUSPEND_SUBSCRIPTION.value: SuspendPayload,
    ActionKind.REACTIVATE_SUBSCRIPTION.value: ReactivatePayload,
    ActionKind.NOTIFY_EMAIL.value: NotifyEmailPayload,
    ActionKind.WEBHOOK.value: WebhookPayload,
    ActionKind.OPEN_REVIEW_CASE.value: ReviewCasePayload,
}
