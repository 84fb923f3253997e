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

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Text, select, text, type_coerce, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.actions.outbox import superseded
from riskdesk.book.facts import customer_facts
from riskdesk.collections.evaluate import Decision, decide_many
from riskdesk.collections.facts import jsonable, policy_facts
from riskdesk.collections.plan import Plan, PlannedAction, plan_transitions, transition_key
from riskdesk.collections.policy import Policy
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.models import (
    ActionKind,
    ActionStatus,
    CollectionState,
    Customer,
    OutboxAction,
    PolicyVersion,
    PromiseStatus,
    PromiseToPay,
    Subscription,
)
from riskdesk.errors import ConflictError
from riskdesk.gcpause import gc_paused

PER_SUBSCRIPTION = {ActionKind.SUSPEND_SUBSCRIPTION.value, ActionKind.REACTIVATE_SUBSCRIPTION.value}


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

    @property
    def transitions(self) -> list[Decision]:
        return [] if self.plan is None else self.plan.transitions


def _customer_context(
    connection: Connection, as_of: date, customer_ids: Sequence[int] | None
) -> tuple[dict[int, tuple[list[str], date]], dict[int, str | None], dict[int, date]]:
    """(tags and created_on, current stage, latest active promise date) per customer."""
    # Tags as the stored text (most customers share a few lists): parsed once per distinct
    # text below, not once per customer by the JSON type.
    customers = select(
        Customer.id, type_coerce(Customer.tags, Text), type_coerce(Customer.created_on, Text)
    )
    states = select(CollectionState.customer_id, CollectionState.stage)
    promises = select(PromiseToPay.customer_id, PromiseToPay.due_on).where(
        PromiseToPay.status == PromiseStatus.ACTIVE.value, PromiseToPay.promised_on <= as_of
    )
    if customer_ids is not None:
        customers = customers.where(Customer.id.in_(customer_ids))
        states = states.where(CollectionState.customer_id.in_(customer_ids))
        promises = promises.where(PromiseToPay.customer_id.in_(customer_ids))
    parsed: dict[str, Any] = {}

    def tags_of(raw: Any) -> list[str]:
        if isinstance(raw, str):  # the driver returns JSON as text (SQLite)
            value = parsed.get(raw)
            if value is None:
                value = parsed[raw] = json.loads(raw)
            raw = value
        return list(raw or [])

    days: dict[Any, date | None] = {None: None}

    def day_of(raw: Any) -> date | None:
        # SQLite returns the stored ISO text (parsed once per distinct day here, not by the
        # Date type's regular expression per row); PostgreSQL a date.
        value = days.get(raw)
        if value is None and raw is not None:
            value = days[raw] = raw if isinstance(raw, date) else date.fromisoformat(raw)
        return value

    info = {
        cid: (tags_of(raw), day_of(created)) for cid, raw, created in connection.execute(customers)
    }
    current = dict(connection.execute(states).all())
    promise_until: dict[int, date] = {}
    for cid, due_on in connection.execute(promises):
        if cid not in promise_until or due_on > promise_until[cid]:
            promise_until[cid] = due_on
    return info, current, promise_until


class UnknownStageError(ConflictError):
    """Customers are in stages the policy does not have (renamed or removed)."""


def _check_stages_known(policy: Policy, current: dict[int, str | None]) -> None:
    """Refuse a policy that dropped a stage customers are in.

    Deciding them would have to guess what the missing stage held: send its notices again,
    or lift (or not) what it suspended. A person decides instead, before anything runs.
    """
    known = policy.stage_table().severity
    missing: dict[str, int] = {}
    for stage in current.values():
        if stage not in known:
            missing[stage] = missing.get(stage, 0) + 1
    if missing:
        listed = ", ".join(
            f"'{name}' ({count:,} customers)" for name, count in sorted(missing.items())
        )
        raise UnknownStageError(
            f"policy {policy.source} has no stage {listed} that customers are in; nothing "
            "was decided. Stages are matched by name: keep the stage (its name, and what it "
            "holds) in the policy as long as customers are in it."
        )


def evaluate(
    connection: Connection,
    policy: Policy,
    as_of: date,
    customer_ids: Sequence[int] | None = None,
    *,
    stages: dict[int, str | None] | None = None,
) -> list[Decision]:
    """Every customer's decision as of `as_of` (pure apart from reading the book).

    `stages` overrides the current stages read from the book (the what-if preview carries
    its own from day to day).
    """
    with gc_paused():  # a whole-book pass: see riskdesk.gcpause
        facts = customer_facts(connection, as_of, customer_ids)
        info, current, promise_until = _customer_context(connection, as_of, customer_ids)
        if stages is not None:
            current = stages
        _check_stages_known(policy, current)
        rows = [
            policy_facts(
                f,
                tags=info.get(f.customer_id, ([], None))[0],
                created_on=info.get(f.customer_id, ([], None))[1],
                promise_until=promise_until.get(f.customer_id),
                as_of=as_of,
            )
            for f in facts
        ]
        return decide_many(policy, rows, current, as_of)


#: Customers from which reading every live subscription and filtering here is cheaper than a
#: list of ids in the statement (a first run over the whole book).
WHOLE_BOOK_FROM = 2000


def _subscriptions_in_scope(
    connection: Connection, customer_ids: set[int]
) -> dict[int, list[tuple[int, str, str]]]:
    """(id, kind, offer id) of each customer's live subscriptions."""
    found: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    if not customer_ids:
        return found
    query = select(
        Subscription.customer_id, Subscription.id, Subscription.kind, Subscription.offer_id
    ).where(Subscription.provider_status.not_in(("deleted", "expired", "disabled")))
    if len(customer_ids) <= WHOLE_BOOK_FROM:
        query = query.where(Subscription.customer_id.in_(sorted(customer_ids)))
    for cid, sid, kind, offer in connection.execute(query):
        if cid in customer_ids:
            found[cid].append((sid, kind, offer))
    return found


def _in_scope(scope: dict[str, Any] | None, kind: str, offer: str) -> bool:
    if not scope or scope.get("all"):
        return True
    if "kind" in scope:
        return kind == scope["kind"]
    return offer in scope.get("offers", ())


class OutboxRow(NamedTuple):
    """One outbox row as planned (the columns a run sets; the rest start empty)."""

    idempotency_key: str
    kind: str
    customer_id: int
    subscription_id: int | None
    payload: dict[str, Any]
    status: str


_PENDING = ActionStatus.PENDING.value
_AWAITING_APPROVAL = ActionStatus.AWAITING_APPROVAL.value


def outbox_rows(connection: Connection, actions: Sequence[PlannedAction]) -> list[OutboxRow]:
    """The planned actions as outbox rows; suspensions and reactivations, one per subscription.

    A reactivation is planned for every subscription in its scope: the executor lifts only
    the `non_payment` reason and reactivates only where no other reason remains.
    """
    subscriptions = _subscriptions_in_scope(
        connection, {a.customer_id for a in actions if a.kind in PER_SUBSCRIPTION}
    )
    rows: list[OutboxRow] = []
    append = rows.append
    for action in actions:
        status = _AWAITING_APPROVAL if action.requires_approval else _PENDING
        if action.kind not in PER_SUBSCRIPTION:
            append(
                OutboxRow(action.key, action.kind, action.customer_id, None, action.payload, status)
            )
            continue
        scope = action.payload.get("scope")
        keep = action.payload.get("keep") or ()
        for sid, kind, offer in subscriptions.get(action.customer_id, ()):
            if _in_scope(scope, kind, offer) and not any(_in_scope(k, kind, offer) for k in keep):
                append(
                    OutboxRow(
                        f"{action.key}:{sid}",
                        action.kind,
                        action.customer_id,
                        sid,
                        action.payload,
                        status,
                    )
                )
    return rows


SMALL_BATCH = 200  # outbox rows up to which PostgreSQL gets one plain INSERT

_OUTBOX_COLUMNS = (
    "idempotency_key",
    "kind",
    "customer_id",
    "subscription_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)


def _enqueue_all(session: Session, rows: Sequence[OutboxRow], now: datetime) -> int:
    """INSERT ... ON CONFLICT DO NOTHING for all rows at once; returns how many were new.

    Written by `bulk_insert` (executemany on SQLite, COPY on PostgreSQL), values in storage
    form: each payload serialised once (the rows of one action share it).
    """
    if not rows:
        return 0
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: riskdesk stores timezone-aware UTC")
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) <= SMALL_BATCH:
        # A few rows (one customer re-evaluated): one INSERT ... ON CONFLICT DO NOTHING is
        # cheaper than bulk_insert's staging table; it returns the rows inserted.
        stmt = (
            postgresql.insert(OutboxAction.__table__)
            .values(
                [
                    r._asdict()
                    | {"attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
                    for r in rows
                ]
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxAction.__table__.c.id)
        )
        return len(connection.execute(stmt).all())
    texts: dict[int, str] = {}
    dumps = json.dumps
    values = []
    append = values.append
    for key, kind, customer_id, subscription_id, payload, status in rows:
        encoded = texts.get(id(payload))
        if encoded is None:
            encoded = texts[id(payload)] = dumps(payload)
        append((key, kind, customer_id, subscription_id, encoded, status, 0, now, now, now))
    return bulk_insert(
        connection,
        OutboxAction.__table__,
        _OUTBOX_COLUMNS,
        values,
        ignore_conflicts_on="idempotency_key",
        conflicts_rare=True,  # runs take turns and a committed transition is not planned again
    )


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
) -> RunReport:
    """Decide every customer's stage and plan (or, with `dry_run`, only show) the changes.

    `max_suspensions` overrides the policy's blast radius for this run only; the run's audit
    event records it and who ran it (`actor`).
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
            decisions = evaluate(connection, policy, as_of, customer_ids)
            report.customers = len(decisions)
            changed = [d for d in decisions if d.changed]
            report.decisions = changed
            recorded = _recorded_transitions(connection, {d.customer_id for d in changed})
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
            rows = outbox_rows(connection, plan.actions)
            report.awaiting_approval = sum(r.status == _AWAITING_APPROVAL for r in rows)
            if dry_run:
                transaction.rollback()
                report.enqueued = len(rows)
                return report
            session = Session(bind=connection)
            _record_policy(session, policy, moment)
            report.enqueued = _enqueue_all(session, rows, moment)
            report.already_enqueued = len(rows) - report.enqueued
            holds = policy.stage_table().holds
            version = policy.version
            keys = {
                id(d): transition_key(version, d, recorded.get(d.customer_id, 0) + 1)
                for d in plan.transitions
            }
            _record_states(session, policy, plan.transitions, moment, keys, recorded)
            stale_events = _cancel_superseded(
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
                    },
                )
            )
            audit.record_many(session, events, actor=actor, occurred_at=moment, json_ready=True)
            session.flush()
            session.close()
            transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    return report


def _jsonable_facts(decision: Decision, memo: dict[int, Any]) -> dict[str, Any]:
    return jsonable({k: v for k, v in decision.facts.items() if k != "customer_id"}, memo)


def _record_policy(session: Session, policy: Policy, moment: datetime) -> None:
    if session.get(PolicyVersion, policy.version) is None:
        session.add(
            PolicyVersion(
                version=policy.version,
                name=policy.name,
                content=policy.text,
                loaded_at=moment,
            )
        )
        session.flush()


_STATE_COLUMNS = (
    "customer_id",
    "stage",
    "entered_on",
    "policy_version",
    "orders_blocked",
    "subscriptions_suspended",
    "transitions",
    "transition_key",
    "updated_at",
)


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


def _recorded_transitions(connection: Connection, customer_ids: set[int]) -> dict[int, int]:
    """How many stage changes each of these customers has recorded (customers with a state)."""
    if not customer_ids:
        return {}
    query = select(CollectionState.customer_id, CollectionState.transitions)
    if len(customer_ids) <= WHOLE_BOOK_FROM:
        query = query.where(CollectionState.customer_id.in_(sorted(customer_ids)))
    return {cid: n for cid, n in connection.execute(query) if cid in customer_ids}


def _record_states(
    session: Session,
    policy: Policy,
    transitions: Sequence[Decision],
    moment: datetime,
    keys: dict[int, str],
    recorded: dict[int, int],
) -> None:
    """Each transition's new stage, its key and count, and what it holds: the order block
    takes effect here (not via the outbox); `subscriptions_suspended` lets the executor tell
    a suspension still wanted from one the customer has since paid its way out of."""
    if not transitions:
        return
    ids = [d.customer_id for d in transitions if d.customer_id in recorded]
    existing = {
        s.customer_id: s
        for start in range(0, len(ids), 5000)
        for s in session.scalars(
            select(CollectionState).where(
                CollectionState.customer_id.in_(ids[start : start + 5000])
            )
        )
    }
    new: list[tuple[Any, ...]] = []
    version = policy.version
    holds = policy.stage_table().holds
    for d in transitions:
        blocked, suspended = holds.get(d.stage, (False, False))
        key = keys[id(d)]
        state = existing.get(d.customer_id)
        if state is None:
            # New states as plain rows, inserted at once below (not one ORM object each).
            new.append(
                (d.customer_id, d.stage, d.as_of, version, blocked, suspended, 1, key, moment)
            )
        else:
            state.stage = d.stage
            state.entered_on = d.as_of
            state.policy_version = version
            state.orders_blocked = blocked
            state.subscriptions_suspended = suspended
            state.transitions = state.transitions + 1
            state.transition_key = key
            state.updated_at = moment
    session.flush()
    if new:
        bulk_insert(session.connection(), CollectionState.__table__, _STATE_COLUMNS, new)


_WAITING = frozenset({ActionStatus.PENDING.value, ActionStatus.AWAITING_APPROVAL.value})
_SUPERSEDABLE = frozenset(
    {
        ActionKind.NOTIFY_EMAIL.value,
        ActionKind.SUSPEND_SUBSCRIPTION.value,
        ActionKind.REACTIVATE_SUBSCRIPTION.value,
        ActionKind.OPEN_REVIEW_CASE.value,
    }
)


def _cancel_superseded(
    session: Session,
    policy: Policy,
    transitions: Sequence[Decision],
    keys: dict[int, str],
    recorded: dict[int, int],
    moment: datetime,
) -> list[audit.NewEvent]:
    """Cancel earlier collections actions that the new transitions make stale.

    A notice for a stage the customer has left, a suspension waiting (for approval, or for a
    retry) after the customer paid, a reactivation after it is held again: each would act
    against a state it was not planned for (`actions.outbox.superseded`, which the executor
    also checks). Only customers with an earlier state can have such actions.
    """
    moved = {d.customer_id: d for d in transitions if d.customer_id in recorded}
    if not moved:
        return []
    table = policy.stage_table()
    holds = table.holds
    query = select(
        OutboxAction.id,
        OutboxAction.customer_id,
        OutboxAction.kind,
        OutboxAction.status,
        OutboxAction.idempotency_key,
        OutboxAction.subscription_id,
        OutboxAction.payload,
    )
    if len(moved) <= WHOLE_BOOK_FROM:
        # By customer only (a handful of rows each): a status condition here lets the planner
        # walk the (status, next_attempt_at) index over every pending action of the book.
        query = query.where(OutboxAction.customer_id.in_(sorted(moved)))
    else:
        query = query.where(OutboxAction.status.in_(sorted(_WAITING)))
    stale: dict[str, list[int]] = defaultdict(list)
    described: dict[int, audit.NewEvent] = {}
    for action_id, customer_id, kind, status, key, subscription_id, payload in session.execute(
        query
    ):
        d = moved.get(customer_id)
        if d is None or status not in _WAITING or kind not in _SUPERSEDABLE:
            continue
        action_stage = (payload or {}).get("stage")
        scope = (payload or {}).get("scope")
        scopes_now = [a.scope for a in table.suspend_actions.get(d.stage, ())]
        why = superseded(
            kind,
            payload,
            stage=d.stage,
            subscriptions_suspended=holds.get(d.stage, (False, False))[1],
            transition_key=keys[id(d)],
            left_stage=table.severity.get(d.stage, 0) < table.severity.get(action_stage, 0),
            scope_held=None if scope is None else scope in scopes_now,
        )
        if why is None:
            continue
        stale[why].append(action_id)
        described[action_id] = audit.NewEvent(
            "action.cancelled",
            "customer",
            customer_id,
            {
                "action_id": action_id,
                "kind": kind,
                "key": key,
                "subscription_id": subscription_id,
                "reason": why,
            },
        )
    cancelled: list[int] = []
    for why, ids in stale.items():
        for start in range(0, len(ids), 5000):
            # Only rows still waiting: an executor may have claimed one since it was read.
            cancelled += session.scalars(
                update(OutboxAction)
                .where(
                    OutboxAction.id.in_(ids[start : start + 5000]),
                    OutboxAction.status.in_(sorted(_WAITING)),
                )
                .values(status=ActionStatus.CANCELLED.value, last_error=why, updated_at=moment)
                .returning(OutboxAction.id)
            ).all()
    return [described[i] for i in sorted(cancelled)]


@dataclass(frozen=True)
class PreviewEvent:
    """What would happen to one customer on one day if nobody paid.

    `held_by_blast_radius`: the customer would reach `stage` that day, but more customers
    than the policy's `max_suspensions_per_run` would be suspended at once, so a run would
    suspend none of them (and alert) until a person lets it proceed; the preview keeps such a
    customer at its previous stage and lists it once, on the first day it would be held.
    """

    day: date
    customer_id: int
    customer: str
    currency: str
    previous_stage: str | None
    stage: str | None
    notices: tuple[str, ...]
    suspends: int  # subscription suspensions planned
    requires_approval: bool
    overdue_amount: str
    days_past_due: int
    held_by_blast_radius: bool = False


def preview(engine: Engine, policy: Policy, *, start: date, days: int) -> list[PreviewEvent]:
    """Day by day from the day after `start`, the transitions if nobody paid (writes nothing).

    Stages are carried forward in memory from the book's current ones; the blast radius is
    applied per day as a run would (see `PreviewEvent.held_by_blast_radius`).
    """
    events: list[PreviewEvent] = []
    held_shown: set[tuple[int, str | None]] = set()
    with gc_paused(), engine.connect() as connection:
        names = {
            cid: (name, currency)
            for cid, name, currency in connection.execute(
                select(Customer.id, Customer.name, Customer.currency)
            )
        }
        stages: dict[int, str | None] = dict(
            connection.execute(select(CollectionState.customer_id, CollectionState.stage)).all()
        )

        def described(day: date, plan: Plan, held: bool) -> list[PreviewEvent]:
            per_customer: dict[int, list[OutboxRow]] = defaultdict(list)
            for row in outbox_rows(connection, plan.actions):
                per_customer[row.customer_id].append(row)
            out = []
            for d in plan.transitions:
                mine = per_customer.get(d.customer_id, [])
                name, currency = names.get(d.customer_id, (str(d.customer_id), ""))
                out.append(
                    PreviewEvent(
                        day=day,
                        customer_id=d.customer_id,
                        customer=name,
                        currency=currency,
                        previous_stage=d.previous_stage,
                        stage=d.stage,
                        notices=tuple(
                            r.payload.get("template", "")
                            for r in mine
                            if r.kind == ActionKind.NOTIFY_EMAIL.value
                        ),
                        suspends=sum(r.kind == ActionKind.SUSPEND_SUBSCRIPTION.value for r in mine),
                        requires_approval=any(r.status == _AWAITING_APPROVAL for r in mine),
                        overdue_amount=str(d.facts.get("overdue_amount", "")),
                        days_past_due=int(d.facts.get("days_past_due", 0)),
                        held_by_blast_radius=held,
                    )
                )
            return out

        for offset in range(1, days + 1):
            day = start + timedelta(days=offset)
            decisions = evaluate(connection, policy, day, stages=stages)
            plan = plan_transitions(policy, [d for d in decisions if d.changed])
            events.extend(described(day, plan, held=False))
            for d in plan.transitions:
                stages[d.customer_id] = d.stage
            first_held = [d for d in plan.withheld if (d.customer_id, d.stage) not in held_shown]
            if first_held:
                # What those runs would do once let through, to show it (they stay held).
                would = plan_transitions(policy, first_held, max_suspensions=len(first_held))
                events.extend(described(day, would, held=True))
                held_shown.update((d.customer_id, d.stage) for d in first_held)
    return events
