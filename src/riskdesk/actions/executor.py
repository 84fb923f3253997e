"""The executor: carries out due outbox actions, with retries, backoff, leases and audit.

One action at a time, in three steps, each its own short transaction (no transaction is
open while the provider, the SMTP server or a webhook is called):

1. **claim**: a due ``pending`` row becomes ``in_progress``; ``attempts`` + 1, ``claimed_at``
   = now (the start of a lease). On PostgreSQL the row is picked ``FOR UPDATE SKIP LOCKED``,
   so several executors share the queue; on SQLite a conditional UPDATE decides who won.
2. **effect**: the executor only dispatches, through the `riskdesk.actions.registry.Registry`
   it is given: a kind's staleness rules first (a stale action is recorded done and skipped),
   then its effect (`riskdesk.actions.effects`). Every effect is idempotent: a suspension reason is
   added only if absent and the provider is asked for a status, not a toggle; orders blocked
   is a flag; a webhook carries ``Idempotency-Key``.
3. **record**: ``done`` + result + an audit event (with the payload's policy version, stage
   and facts); or, on a transient error, ``pending`` again with exponential backoff (failed
   after ``max_attempts``); or, on a permanent error, ``failed`` + an audit event. The record
   only applies if the row is still ours (``in_progress`` with the attempt count we claimed),
   so a slow executor whose lease was taken over cannot overwrite the newer outcome.

Crash safety. A claim records its holder (`Holder`: host and pid namespace, pid, the
process's start time, a random per-process token). A row left ``in_progress`` goes back to
``pending`` at the start of the next ``run_once`` and is tried again once its owner is
provably gone: its lease (default 5 minutes) has expired, or its holder ran on this host and
that pid no longer runs (or has exited, or is another process now: a different start time).
A holder on another host, or one that cannot be checked, keeps its claim until the lease
ends. Provider effects are repeated harmlessly. Nothing is lost (the row is there until it
is done, failed or cancelled) and nothing is doubled (the suspension reason is a unique row;
the provider PATCH sets a status it may already have).

E-mail is the one effect that cannot be repeated harmlessly. Guarantee:

* A ``done`` e-mail action is never sent again (only pending rows are claimed).
* Before handing the message to SMTP the executor commits ``effect_started_at``. An SMTP
  error before the message data goes out (connection refused or lost, a 4xx or 5xx reply) or
  a 4xx/5xx final reply to the data means the server did not take the message: the marker is
  cleared and the action retried or failed as usual.
* A connection lost or timed out *after* the message data began to go out (during the
  transfer, or while waiting for the server's final reply) leaves the delivery unknown: the
  server may have accepted the message. The mailer raises ``UncertainMailError`` and the
  action is treated like the crash below: held in ``awaiting_approval`` (``last_error`` and an
  ``action.uncertain`` audit event say to check the recipient's mailbox or the server's log
  first), never resent without a person (unless ``on_uncertain_email="resend"``).
* A crash *after* the marker and *before* ``done`` leaves the delivery unknown. With the
  default ``on_uncertain_email="hold"`` such an action is not resent automatically: recovery
  moves it to ``awaiting_approval`` with ``last_error`` saying so and an ``action.uncertain``
  audit event; a person checks the mail log for its Message-ID and either ``approve``s it
  (resent with the *same* Message-ID) or ``cancel``s it. So e-mail is at-most-once without a
  person, and at-least-once with a stable Message-ID once the person approves.
  With ``on_uncertain_email="resend"`` it is resent automatically: at-least-once, the duplicate
  (if any) carrying the same Message-ID, which mail clients and archives use to fold copies.
* A crash before the marker was committed is a plain retry: the message was not handed over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.actions.awaiting import waiting_for
from riskdesk.actions.effects import ActionBusyError, Context, Effect, message_id
from riskdesk.actions.outbox import audit_outcome
from riskdesk.actions.recovery import Holder, recover_abandoned
from riskdesk.actions.registry import Registry
from riskdesk.crashpoints import crashpoint
from riskdesk.db.engine import session_scope
from riskdesk.db.models import ActionStatus, OutboxAction
from riskdesk.notify.mail import Mailer, TransientMailError, UncertainMailError
from riskdesk.notify.webhook import TransientWebhookError, WebhookSender, post_webhook
from riskdesk.providers.base import Provider
from riskdesk.providers.errors import ProviderResponseError, TransientProviderError

log = logging.getLogger(__name__)

TRANSIENT = (
    ActionBusyError,
    TransientProviderError,
    ProviderResponseError,
    TransientMailError,
    TransientWebhookError,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    action_id: int
    kind: str
    # done | retry | failed | held (e-mail delivery uncertain: awaiting a person)
    # | deferred (waits for an action not yet done) | lost (someone else recorded it first)
    status: str
    detail: str = ""


@dataclass
class ExecutionReport:
    recovered: int = 0
    held: int = 0  # uncertain e-mails moved to awaiting_approval (by recovery or on sending)
    outcomes: list[Outcome] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def claimed(self) -> int:
        return len(self.outcomes)

    @property
    def done(self) -> int:
        return self._count("done")

    @property
    def retried(self) -> int:
        """Tried again later: after a transient error, or waiting for an earlier action."""
        return self._count("retry") + self._count("deferred")

    @property
    def failed(self) -> int:
        return self._count("failed")


class Executor:
    def __init__(
        self,
        engine: Engine,
        provider: Provider,
        mailer: Mailer,
        webhook: WebhookSender | None = None,
        *,
        registry: Registry,
        now: Callable[[], datetime] = _utcnow,
        max_attempts: int = 8,
        backoff_base: timedelta = timedelta(seconds=30),
        backoff_max: timedelta = timedelta(hours=6),
        lease: timedelta = timedelta(minutes=5),
        on_uncertain_email: Literal["hold", "resend"] = "hold",
        mail_domain: str = "riskdesk.invalid",
        actor: str = "executor",
        holder: Holder | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.engine = engine
        self.registry = registry
        self.provider = provider
        self.mailer = mailer
        self.webhook = webhook or post_webhook
        self.now = now
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lease = lease
        self.on_uncertain_email = on_uncertain_email
        self.mail_domain = mail_domain
        self.actor = actor
        self.holder = holder or Holder.current()

    # ------------------------------------------------------------------ the loop

    def run_once(self, limit: int | None = None) -> ExecutionReport:
        """Recover stale claims, then carry out due actions (at most `limit`) one by one."""
        report = ExecutionReport()
        report.recovered, report.held = self._recover(self.lease)
        due_by = self.now()
        skipped: set[int] = set()
        while limit is None or report.claimed < limit:
            claim = self._claim(due_by, skipped)
            if claim is None:
                break
            outcome = self._execute(*claim)
            crashpoint("executor.after_record", outcome.kind)
            report.outcomes.append(outcome)
            if outcome.status == "held":
                report.held += 1
        return report

    # ------------------------------------------------------------------ steps

    def _claim(self, due_by: datetime, skipped: set[int]) -> tuple[int, int] | None:
        """Claim one due action: (id, attempt number), or None when nothing is due."""
        while True:
            with session_scope(self.engine) as session:
                query = (
                    select(OutboxAction.id)
                    .where(
                        OutboxAction.status == ActionStatus.PENDING.value,
                        OutboxAction.next_attempt_at <= due_by,
                    )
                    .order_by(OutboxAction.next_attempt_at, OutboxAction.id)
                    .limit(1)
                )
                if skipped:
                    query = query.where(OutboxAction.id.not_in(skipped))
                if session.get_bind().dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                action_id = session.scalars(query).first()
                if action_id is None:
                    return None
                moment = self.now()
                claimed = session.execute(
                    update(OutboxAction)
                    .where(
                        OutboxAction.id == action_id,
                        OutboxAction.status == ActionStatus.PENDING.value,
                    )
                    .values(
                        status=ActionStatus.IN_PROGRESS.value,
                        attempts=OutboxAction.attempts + 1,
                        claimed_at=moment,
                        claimed_by=self.holder.text(),
                        updated_at=moment,
                    )
                    .returning(OutboxAction.attempts)
                ).first()
            skipped.add(action_id)
            if claimed is not None:
                return action_id, claimed[0]

    def _load(self, action_id: int) -> OutboxAction:
        with session_scope(self.engine) as session:
            action = session.get(OutboxAction, action_id)
            assert action is not None
            session.expunge(action)
            return action

    @contextmanager
    def _recording(self) -> Iterator[Session]:
        """A transaction that will audit: the chain lock first, before any row lock."""
        with session_scope(self.engine) as session:
            audit.lock_chain(session)  # see audit.lock_chain
            yield session

    def _mine(self, session: Session, action_id: int, attempt: int) -> OutboxAction | None:
        query = select(OutboxAction).where(
            OutboxAction.id == action_id,
            OutboxAction.status == ActionStatus.IN_PROGRESS.value,
            OutboxAction.attempts == attempt,
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return session.scalars(query.execution_options(populate_existing=True)).first()

    def _mark_effect_started(self, action_id: int, attempt: int) -> Callable[[], None]:
        def mark() -> None:
            with session_scope(self.engine) as session:
                action = self._mine(session, action_id, attempt)
                if action is None:
                    raise _LostClaim(action_id)
                action.effect_started_at = self.now()
            crashpoint("executor.after_effect_started")

        return mark

    def _execute(self, action_id: int, attempt: int) -> Outcome:
        action = self._load(action_id)
        crashpoint("executor.after_claim", action.kind)
        context = Context(
            engine=self.engine,
            provider=self.provider,
            mailer=self.mailer,
            webhook=self.webhook,
            now=self.now,
            mail_domain=self.mail_domain,
            mark_effect_started=self._mark_effect_started(action_id, attempt),
        )
        try:
            kind = self.registry.get(action.kind)
            stale = self._skipped_if_stale(action)
            if stale is None and self._awaits(action):
                return self._record_deferred(action, attempt)
            effect = stale or kind.effect(context, action)
        except _LostClaim:
            return Outcome(action_id, action.kind, "lost", "claim taken over before the effect")
        except UncertainMailError as exc:  # before TRANSIENT: the server may have the message
            return self._record_uncertain(action, attempt, exc)
        except TRANSIENT as exc:
            retry_after = getattr(exc, "retry_after", None)
            return self._record_error(action, attempt, exc, transient=True, retry_after=retry_after)
        except Exception as exc:  # permanent provider/mail/webhook errors, bad payloads, bugs
            log.exception("action %s (%s) failed", action_id, action.kind)
            return self._record_error(action, attempt, exc, transient=False)
        crashpoint("executor.after_effect_before_record", action.kind)
        return self._record_done(action, attempt, effect)

    def _skipped_if_stale(self, action: OutboxAction) -> Effect | None:
        """A done-and-skipped Effect when the kind's staleness rules say the action is stale."""
        with session_scope(self.engine) as session:
            why = self.registry.stale_reason(session, action)
        return None if why is None else Effect(result={"skipped": why})

    def _awaits(self, action: OutboxAction) -> bool:
        """Whether an action it waits for (`payload["after"]`) is not done yet; raises
        AwaitedActionFailed (permanent) when one never will be."""
        keys = (action.payload or {}).get("after") or ()
        if not keys:
            return False
        with session_scope(self.engine) as session:
            return waiting_for(session, keys) is not None

    def _record_deferred(self, snapshot: OutboxAction, attempt: int) -> Outcome:
        """Back to pending, the attempt not counted: it was never tried."""
        with session_scope(self.engine) as session:
            action = self._mine(session, snapshot.id, attempt)
            if action is None:
                return Outcome(snapshot.id, snapshot.kind, "lost", "recorded by another run")
            moment = self.now()
            action.status = ActionStatus.PENDING.value
            action.attempts = attempt - 1
            action.claimed_at = None
            action.next_attempt_at = moment + self.backoff_base
            action.updated_at = moment
        return Outcome(snapshot.id, snapshot.kind, "deferred", "waits for an earlier action")

    def _audit(self, session: Session, action: OutboxAction, what: str, **data: Any) -> None:
        audit_outcome(session, action, self.actor, what, **data)

    def _record_done(self, snapshot: OutboxAction, attempt: int, effect: Effect) -> Outcome:
        with self._recording() as session:
            action = self._mine(session, snapshot.id, attempt)
            if action is None:
                return Outcome(snapshot.id, snapshot.kind, "lost", "recorded by another run")
            if effect.on_done is not None:
                effect.on_done(session)
            action.status = ActionStatus.DONE.value
            action.result = effect.result
            action.last_error = None
            action.updated_at = self.now()
            self._audit(session, action, "done", result=effect.result, **effect.extra_audit)
        return Outcome(snapshot.id, snapshot.kind, "done")

    def _backoff(self, attempt: int, retry_after: float | None) -> timedelta:
        delay = min(self.backoff_base * (2 ** max(0, attempt - 1)), self.backoff_max)
        if retry_after:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay

    def _record_error(
        self,
        snapshot: OutboxAction,
        attempt: int,
        exc: BaseException,
        *,
        transient: bool,
        retry_after: float | None = None,
        delivery_uncertain: bool = False,
    ) -> Outcome:
        message = f"{type(exc).__name__}: {exc}"[:2000]
        with self._recording() as session:
            action = self._mine(session, snapshot.id, attempt)
            if action is None:
                return Outcome(snapshot.id, snapshot.kind, "lost", message)
            moment = self.now()
            action.last_error = message
            action.updated_at = moment
            if not delivery_uncertain:
                # The mail server refused or never got the message: sending again is safe.
                action.effect_started_at = None
            if transient and attempt < self.max_attempts:
                action.status = ActionStatus.PENDING.value
                action.next_attempt_at = moment + self._backoff(attempt, retry_after)
                return Outcome(snapshot.id, snapshot.kind, "retry", message)
            action.status = ActionStatus.FAILED.value
            gave_up = transient and attempt >= self.max_attempts
            self._audit(
                session,
                action,
                "failed",
                error=message,
                permanent=not transient,
                gave_up_after_attempts=attempt if gave_up else None,
            )
        return Outcome(snapshot.id, snapshot.kind, "failed", message)

    def _record_uncertain(
        self, snapshot: OutboxAction, attempt: int, exc: UncertainMailError
    ) -> Outcome:
        """The mail server may have accepted the message: hold it for a person, as a crash.

        With ``on_uncertain_email="resend"`` (and attempts left) it is retried instead, with
        ``effect_started_at`` kept so the result records the resend.
        """
        if self.on_uncertain_email == "resend" and attempt < self.max_attempts:
            return self._record_error(
                snapshot, attempt, exc, transient=True, delivery_uncertain=True
            )
        error = f"{type(exc).__name__}: {exc}"
        mid = message_id(snapshot.idempotency_key, self.mail_domain)
        with self._recording() as session:
            action = self._mine(session, snapshot.id, attempt)
            if action is None:
                return Outcome(snapshot.id, snapshot.kind, "lost", error[:2000])
            action.status = ActionStatus.AWAITING_APPROVAL.value
            action.updated_at = self.now()
            action.last_error = (
                "delivery uncertain: the connection to the mail server failed after the "
                "message was handed over, before the server confirmed it, so it may have been "
                f"delivered; check the recipient's mailbox or the mail server's log for "
                f"Message-ID {mid} before approving a resend (same Message-ID), or cancel it "
                f"if it was delivered. {error}"
            )[:2000]
            self._audit(session, action, "uncertain", message_id=mid, error=error[:2000])
        log.warning("action %s: e-mail delivery uncertain, held for a person: %s", snapshot.id, exc)
        return Outcome(snapshot.id, snapshot.kind, "held", error[:2000])

    def _recover(self, older_than: timedelta) -> tuple[int, int]:
        return recover_abandoned(
            self.engine,
            now=self.now(),
            lease=older_than,
            actor=self.actor,
            max_attempts=self.max_attempts,
            on_uncertain_email=self.on_uncertain_email,
        )


class _LostClaim(Exception):
    def __init__(self, action_id: int) -> None:
        super().__init__(f"action {action_id}: claim lost")
