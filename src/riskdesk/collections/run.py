"""A collections run: facts -> decisions -> plan -> outbox, in one transaction.

This is the only part of `collections` that touches the database. It reads every customer's
facts (one set-based query), their current stage, tags, age and active promise to pay, asks
the pure evaluator for each customer's stage, plans the transitions, and writes in ONE
transaction: the policy version, the outbox rows (one per subscription for suspensions and
reactivations, keyed so a re-run never enqueues twice), the new stages and an audit event per
transition with the facts that triggered it. Nothing is carried out here: the executor
(`riskdesk.actions.executor`) does that after commit, so a crash between the two loses
nothing and doubles nothing (the next run finds the rows pending and the executor finishes
them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.actions.outbox import OutboxRow, enqueue_many
from riskdesk.collections.evaluate import Decision
from riskdesk.collections.facts import jsonable
from riskdesk.collections.notices import with_notice_content
from riskdesk.collections.plan import Plan, plan_transitions, transition_key
from riskdesk.collections.policy import Policy
from riskdesk.collections.preview import PreviewEvent, preview
from riskdesk.collections.reading import UnknownStageError, evaluate, recorded_transitions
from riskdesk.collections.stale import cancel_superseded
from riskdesk.collections.writes import (
    AWAITING_APPROVAL,
    live_subscriptions,
    outbox_rows,
    record_policy,
    record_states,
)
from riskdesk.crashpoints import crashpoint
from riskdesk.db.models import ActionStatus, OutboxAction
from riskdesk.gcpause import gc_paused

__all__ = [
    "OutboxRow",
    "PreviewEvent",
    "RunReport",
    "UnknownStageError",
    "evaluate",
    "outbox_rows",
    "preview",
    "run_collections",
]


@dataclass
class RunReport:
    as_of: date
    policy_version: str
    dry_run: bool
    customers: int = 0
    decisions: list[Decision] = field(default_factory=list)  # only the changed ones
    plan: Plan | None = None
    enqueued: int = 0
    already_enqueued: int = 0
    awaiting_approval: int = 0  # of the rows planned, those that wait for a person
    by_stage: dict[str, int] = field(default_factory=dict)
    alert: str | None = None
    # Actions an executor holds now, or left by one that stopped (recovered once its lease
    # ends): a person sees them before wondering why a suspension has not happened.
    in_progress: int = 0
    in_progress_since: datetime | None = None
    approval_reason: str | None = None  # why the actions waiting for a person wait, in words

    @property
    def transitions(self) -> list[Decision]:
        return [] if self.plan is None else self.plan.transitions


def run_collections(
    engine: Engine,
    policy: Policy,
    *,
    as_of: date,
    dry_run: bool = False,
    customer_ids: Sequence[int] | None = None,
    actor: str = "collections",
    now: datetime | None = None,
    max_suspensions: int | None = None,
    run_audit: dict[str, Any] | None = None,
) -> RunReport:
    """Decide every customer's stage and plan (or, with `dry_run`, only show) the changes.

    `max_suspensions` overrides the policy's blast radius for this run only; the run's audit
    event records it and who ran it (`actor`). `run_audit` adds to that event's data (an
    override of the day, say, and who decided it).
    """
    if max_suspensions is not None and max_suspensions < 0:
        raise ValueError(f"max_suspensions must be 0 or more, not {max_suspensions}")
    moment = now or datetime.now(UTC)
    report = RunReport(as_of=as_of, policy_version=policy.version, dry_run=dry_run)
    # Millions of short-lived objects over the whole book: see riskdesk.gcpause.
    with gc_paused(), engine.connect() as connection:
        transaction = connection.begin()
        try:
            if not dry_run:
                _serialise_runs(connection)
            report.in_progress, report.in_progress_since = _in_progress(connection)
            decisions = evaluate(connection, policy, as_of, customer_ids)
            report.customers = len(decisions)
            changed = [d for d in decisions if d.changed]
            report.decisions = changed
            recorded = recorded_transitions(connection, {d.customer_id for d in changed})
            plan = plan_transitions(
                policy, changed, max_suspensions=max_suspensions, recorded=recorded
            )
            report.plan = plan
            report.alert = plan.alert
            # Stages as they stand after the run: a customer withheld by the blast radius
            # stays where it was.
            withheld = {id(d) for d in plan.withheld}
            for d in decisions:
                stage = d.previous_stage if id(d) in withheld else d.stage
                if stage is not None:
                    report.by_stage[stage] = report.by_stage.get(stage, 0) + 1
            live = live_subscriptions(connection, plan.actions)
            rows = with_notice_content(
                connection, outbox_rows(connection, plan.actions, live), live
            )
            report.awaiting_approval = sum(r.status == AWAITING_APPROVAL for r in rows)
            report.approval_reason = _approval_summary(plan)
            if dry_run:
                transaction.rollback()
                report.enqueued = len(rows)
                return report
            session = Session(bind=connection)
            record_policy(session, policy, moment)
            report.enqueued = enqueue_many(session, rows, moment)
            report.already_enqueued = len(rows) - report.enqueued
            holds = policy.stage_table().holds
            version = policy.version
            keys = {
                id(d): transition_key(version, d, recorded.get(d.customer_id, 0) + 1)
                for d in plan.transitions
            }
            record_states(session, policy, plan.transitions, moment, keys, recorded)
            stale_events = cancel_superseded(
                session, policy, plan.transitions, keys, recorded, moment
            )
            memo: dict[int, Any] = {}
            events = [
                audit.NewEvent(
                    "collections.stage_changed",
                    "customer",
                    d.customer_id,
                    {
                        "transition": keys[id(d)],
                        "from": d.previous_stage,
                        "to": d.stage,
                        "reason": d.reason,
                        "detail": d.detail,
                        "orders_blocked": holds[d.stage][0],
                        "policy_version": version,
                        "as_of": as_of.isoformat(),
                        "facts": _jsonable_facts(d, memo),
                    },
                )
                for d in plan.transitions
            ]
            events.extend(stale_events)
            if plan.alert:
                events.append(
                    audit.NewEvent(
                        "collections.blast_radius_stop",
                        "policy",
                        policy.version,
                        {"alert": plan.alert, "withheld": [d.customer_id for d in plan.withheld]},
                    )
                )
            events.append(
                audit.NewEvent(
                    "collections.run",
                    "policy",
                    policy.version,
                    {
                        "as_of": as_of.isoformat(),
                        "customers": report.customers,
                        "transitions": len(plan.transitions),
                        "enqueued": report.enqueued,
                        "by_stage": report.by_stage,
                        "max_suspensions_override": max_suspensions,
                        **(run_audit or {}),
                    },
                )
            )
            audit.record_many(session, events, actor=actor, occurred_at=moment, json_ready=True)
            session.flush()
            session.close()
            crashpoint("collections.after_plan_before_commit")
            transaction.commit()
            crashpoint("collections.after_commit")
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    return report


def _jsonable_facts(decision: Decision, memo: dict[int, Any]) -> dict[str, Any]:
    return jsonable({k: v for k, v in decision.facts.items() if k != "customer_id"}, memo)


#: PostgreSQL advisory lock key of collections runs ("RISKCOLL").
COLLECTIONS_LOCK = 0x5249534B_434F4C4C


def _serialise_runs(connection: Connection) -> None:
    """Take the collections lock for this transaction, before any fact is read.

    A run decides from facts it read and writes stages at its end; a payment recorded (and its
    customer re-evaluated) in between would be overwritten by the run's older view. So runs,
    whole-book or one customer's, take turns: PostgreSQL with a transaction-scoped advisory
    lock, SQLite by starting the transaction as the writer (BEGIN IMMEDIATE; the driver would
    otherwise begin only at the first write). A payment's re-evaluation waits for a whole-book
    run to commit, then decides on facts that include the payment.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COLLECTIONS_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _in_progress(connection: Connection) -> tuple[int, datetime | None]:
    """How many outbox actions are in progress, and the oldest claim among them."""
    count, oldest = connection.execute(
        select(func.count(), func.min(OutboxAction.claimed_at)).where(
            OutboxAction.status == ActionStatus.IN_PROGRESS.value
        )
    ).one()
    return int(count), oldest


def _approval_summary(plan: Plan) -> str | None:
    """The reasons the planned actions wait for a person: a currency without a threshold
    named as such, balances over a threshold counted (each action's payload has its own)."""
    reasons: set[str] = {
        str(a.payload["approval_reason"])
        for a in plan.actions
        if a.requires_approval and a.payload.get("approval_reason")
    }
    no_threshold = sorted(r for r in reasons if r.startswith("no approval threshold"))
    over = {r for r in reasons if not r.startswith("no approval threshold")}
    parts = [*no_threshold]
    if over:
        parts.append("open balances over the approval threshold of their currency")
    return "; ".join(parts) or None
