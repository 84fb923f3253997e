"""The effects of outbox actions, each safe to repeat (see `riskdesk.actions.executor`).

An effect gets the claimed action (detached, read-only) and returns an `Effect`: the result to
store, and optionally a change to the book written in the same transaction as ``done``.
The composition root registers each effect with its kind (`riskdesk.actions.registry`).
Database changes that must precede a provider call (a suspension reason) are committed in a
transaction of their own first, so the reasons table always says why a subscription is held.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskdesk.actions.outbox import decision_facts
from riskdesk.book.open_invoices import invoice_balances
from riskdesk.cases.store import open_case
from riskdesk.db.engine import session_scope
from riskdesk.db.models import (
    ActionKind,
    ActionStatus,
    CaseKind,
    Customer,
    OutboxAction,
    Subscription,
    SubscriptionSuspension,
    SuspensionReason,
)
from riskdesk.errors import ConflictError, InvalidInputError
from riskdesk.notify.content import NoticeContent, content_from_payload, invoices_for_notice
from riskdesk.notify.mail import Mailer
from riskdesk.notify.templates import build_message, render_content, totals
from riskdesk.notify.webhook import WebhookSender
from riskdesk.providers.base import Provider


class ActionPayloadError(InvalidInputError):
    """The action cannot be carried out as written (missing e-mail address, URL ...)."""


class ActionBusyError(ConflictError):
    """Another action on the same subscription is being carried out: retry after it."""


@dataclass
class Effect:
    result: dict[str, Any]
    on_done: Callable[[Session], None] | None = None
    extra_audit: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    engine: Engine
    provider: Provider
    mailer: Mailer
    webhook: WebhookSender
    now: Callable[[], datetime]
    mail_domain: str
    mark_effect_started: Callable[[], None]


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


def _subscription(session: Session, action: OutboxAction, *, lock: bool) -> Subscription:
    if action.subscription_id is None:
        raise ActionPayloadError(f"action {action.id} ({action.kind}) names no subscription")
    query = select(Subscription).where(Subscription.id == action.subscription_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one()


def _reasons(session: Session, subscription_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(SubscriptionSuspension.reason).where(
                SubscriptionSuspension.subscription_id == subscription_id
            )
        )
    )


def _ids(session: Session, subscription: Subscription) -> tuple[str, str]:
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    return customer.provider_customer_id, subscription.provider_subscription_id


def _set_provider_status(subscription_id: int, status: str) -> Callable[[Session], None]:
    def apply(session: Session) -> None:
        subscription = session.get(Subscription, subscription_id)
        if subscription is not None:
            subscription.provider_status = status

    return apply


def suspend(ctx: Context, action: OutboxAction) -> Effect:
    reason = SuspensionReason(action.payload.get("reason", SuspensionReason.NON_PAYMENT)).value
    added = False
    with session_scope(ctx.engine) as session:
        subscription = _subscription(session, action, lock=True)
        ids = _ids(session, subscription)
        if reason not in _reasons(session, subscription.id):
            try:
                with session.begin_nested():
                    session.add(
                        SubscriptionSuspension(
                            subscription_id=subscription.id,
                            reason=reason,
                            since=ctx.now(),
                            note=action.payload.get("note") or f"outbox action {action.id}",
                        )
                    )
                added = True
            except IntegrityError:  # another writer added the same reason: same state
                added = False
        held_for = _reasons(session, subscription.id)
    # Already suspended at the provider: the client returns it without writing.
    record = ctx.provider.set_subscription_status(*ids, "suspended")
    status = _status(record.status)
    return Effect(
        result={
            "reason": reason,
            "reason_added": added,
            "held_for": held_for,
            "provider_status": status,
        },
        on_done=_set_provider_status(cast(int, action.subscription_id), status),
    )


def _suspension_in_flight(ctx: Context, action: OutboxAction) -> bool:
    """Whether another executor is suspending this subscription right now."""
    with session_scope(ctx.engine) as session:
        busy = session.scalars(
            select(OutboxAction.id)
            .where(
                OutboxAction.subscription_id == action.subscription_id,
                OutboxAction.kind == ActionKind.SUSPEND_SUBSCRIPTION.value,
                OutboxAction.status == ActionStatus.IN_PROGRESS.value,
                OutboxAction.id != action.id,
            )
            .limit(1)
        ).first()
        return busy is not None


def reactivate(ctx: Context, action: OutboxAction) -> Effect:
    """Lift riskdesk's hold for the payload's reason; reactivate only when no reason remains.

    A subscription riskdesk does not hold for that reason is left alone at the provider:
    whoever suspended it (a person in Partner Center, the provider, an earlier tool) is not
    riskdesk's to overrule because a customer paid. The reason is removed in the transaction
    that records the action done, so a crash after the provider call retries it (the call is
    idempotent) instead of forgetting that the hold was riskdesk's.
    """
    reason = SuspensionReason(action.payload.get("reason", SuspensionReason.NON_PAYMENT)).value
    subscription_id = cast(int, action.subscription_id)  # reactivate always names one
    with session_scope(ctx.engine) as session:
        subscription = _subscription(session, action, lock=True)
        ids = _ids(session, subscription)
        reasons = _reasons(session, subscription.id)
    result: dict[str, Any] = {"reason": reason, "reason_removed": reason in reasons}
    if reason not in reasons and _suspension_in_flight(ctx, action):
        # Its hold is not written yet; reactivating now would leave it suspended after it.
        raise ActionBusyError(
            f"a {reason} suspension of subscription {subscription_id} is being carried out; "
            "reactivating after it"
        )
    if reason not in reasons:
        result["provider_untouched"] = f"not held by riskdesk for {reason}"
        return Effect(result=result)

    def remove_reason(session: Session) -> None:
        session.execute(
            delete(SubscriptionSuspension).where(
                SubscriptionSuspension.subscription_id == subscription_id,
                SubscriptionSuspension.reason == reason,
            )
        )

    others = [r for r in reasons if r != reason]
    if others:
        # Paying never reopens a subscription held for another reason.
        result["still_held_for"] = others
        return Effect(result=result, on_done=remove_reason)
    record = ctx.provider.set_subscription_status(*ids, "active")
    status = _status(record.status)
    # A reason added while we were reactivating (a fraud hold racing a payment) wins: its own
    # suspend may have reached the provider before our reactivation did.
    with session_scope(ctx.engine) as session:
        arrived = [r for r in _reasons(session, subscription_id) if r != reason]
    if arrived:
        record = ctx.provider.set_subscription_status(*ids, "suspended")
        status = _status(record.status)
        result["resuspended_for"] = arrived
    result["provider_status"] = status
    record_status = _set_provider_status(subscription_id, status)

    def done(session: Session) -> None:
        remove_reason(session)
        record_status(session)

    return Effect(result=result, on_done=done)


def open_review_case(ctx: Context, action: OutboxAction) -> Effect:
    """Open (or add to) the customer's collections review case, when the action is recorded done.

    Opened in the same transaction that marks the action done, keyed by the action's key, so a
    crash or a retry never opens two cases for one decision.
    """
    payload = action.payload or {}
    stage = payload.get("stage")
    result: dict[str, Any] = {}

    def apply(session: Session) -> None:
        case, opened = open_case(
            session,
            customer_id=action.customer_id,
            kind=CaseKind.COLLECTIONS_REVIEW,
            title=f"Collections review: stage {stage}" if stage else "Collections review",
            by="collections",
            source_key=action.idempotency_key,
            data={
                "stage": stage,
                "transition": payload.get("transition"),
                "policy_version": payload.get("policy_version"),
                "reason": payload.get("reason"),
                "facts": decision_facts(session, action),
            },
            now=ctx.now(),
        )
        result.update(case_id=case.id, opened=opened)

    return Effect(result=result, on_done=apply)


def webhook(ctx: Context, action: OutboxAction) -> Effect:
    url = action.payload.get("url")
    if not url:
        raise ActionPayloadError(f"webhook action {action.id} has no url in its payload")
    body = action.payload.get("body")
    if body is None:
        with session_scope(ctx.engine) as session:
            facts = decision_facts(session, action)
        body = {
            "action_id": action.id,
            "kind": action.kind,
            "customer_id": action.customer_id,
            "subscription_id": action.subscription_id,
            "payload": {k: v for k, v in action.payload.items() if k != "url"},
            "facts": facts,
        }
    timeout = float(action.payload.get("timeout", 10.0))
    return Effect(result=ctx.webhook(url, body, action.idempotency_key, timeout))


_ID_SAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")


def message_id(key: str, domain: str) -> str:
    """A Message-ID that is a function of the idempotency key alone (so a resend repeats it).

    The key itself (made header-safe) is readable in the left part; a hash of the exact key
    keeps two keys that differ only in unsafe characters apart.
    """
    readable = _ID_SAFE.sub(".", key).strip(".")[:120] or "action"
    readable = re.sub(r"\.{2,}", ".", readable)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<{readable}.{digest}@{domain}>"


def _as_of(action: OutboxAction, now: datetime) -> date:
    value = action.payload.get("as_of")
    return date.fromisoformat(value) if value else now.astimezone(UTC).date()


def notify_email(ctx: Context, action: OutboxAction) -> Effect:
    """Render and send the notice its payload holds (`payload["notice"]`, decided when it was
    planned); an action planned before notices kept their content reads the book instead."""
    payload = action.payload
    template = payload.get("template")
    if not template:
        raise ActionPayloadError(f"notify_email action {action.id} has no template")
    as_of = _as_of(action, ctx.now())
    with session_scope(ctx.engine) as session:
        customer = session.get(Customer, action.customer_id)
        assert customer is not None
        to = payload.get("to") or customer.billing_email
        kept = payload.get("notice")
        if kept is None:
            open_invoices = invoice_balances(session, [customer.id], as_of).get(customer.id, [])
            content = NoticeContent(
                invoices_for_notice(open_invoices, announces=payload.get("announces")), []
            )
        else:
            content = content_from_payload(kept)
    if not to:
        raise ActionPayloadError(
            f"customer {action.customer_id} ({customer.name}) has no billing e-mail address"
        )
    invoices = content.invoices
    notice = render_content(
        template,
        content,
        customer_name=customer.name,
        stage=payload.get("stage"),
        as_of=as_of,
        extra={
            k: payload[k]
            for k in ("company", "pay_url", "contact_email", "next_step_on", "reference")
            if k in payload
        },
        confirms_reinstatement=bool(payload.get("confirms_reinstatement")),
    )
    mid = message_id(action.idempotency_key, ctx.mail_domain)
    message = build_message(notice, to=to, sender=ctx.mailer.sender, message_id=mid)
    message["X-Riskdesk-Action"] = action.idempotency_key
    resent = action.effect_started_at is not None
    ctx.mark_effect_started()  # committed before SMTP: a crash from here on is "uncertain"
    ctx.mailer.send(message)
    result = {
        "message_id": mid,
        "to": to,
        "template": template,
        "subject": notice.subject,
        "invoices": [i.number for i in invoices],
        "totals": [str(t) for t in totals(invoices)],
    }
    if content.subscriptions:
        result["subscriptions"] = [s.provider_subscription_id for s in content.subscriptions]
    if resent:
        result["resent_after_uncertain_attempt"] = True
    return Effect(result=result)
