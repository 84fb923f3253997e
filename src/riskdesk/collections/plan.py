"""Turn decisions into intended actions: only the differences, each with a stable key.

Kill Bill's overdue applicator acts only when the state changes; so does this planner. For
each decision whose stage differs from the customer's previous stage:

- moving to a more severe stage yields that stage's own actions (notify, suspend, open_case,
  webhook), plus the suspensions of skipped lesser stages the customer does not already have
  and, when it was not suspended before, the notice of the skipped stage that suspends (a
  customer going straight from good standing to write-off review is told it is suspended,
  and is, for every scope the stages below hold);
- moving to a less severe stage (or none: paid, disputed, promise made, exempted) lifts what
  the new stage no longer holds: `reactivate` with reason `non_payment` when the suspension
  is lifted (the executor reactivates a subscription only when no other suspension reason
  remains), followed by the policy's `reinstatement_notice`, which confirms what was given
  back; it sends no other notice.

Restrictions accumulate: a stage holds the order block and suspensions of every stage below
it (see `Policy.holds`). Blocking new orders is not an outbox action: it has no effect outside
riskdesk, so the run records it with the stage (`collection_states.orders_blocked`) in the
same transaction, where order screening (not built yet) is to read it.

Every action has a deterministic idempotency key `{transition}:{n}`, where the transition key
is `collections:{policy_version[:16]}:{customer_id}:{k}:{stage}:{entered_on}` (`k` counts
the customer's stage changes) and `n` is the action's index in the stage, or a name for
derived actions, so planning the same transition again never enqueues it twice, while
leaving and re-entering a stage on one day is a new transition. A payload names its
transition (`transition`), stage, policy version and day; the facts that triggered it are
recorded once per transition, in the `collections.stage_changed` audit event, not copied
into every action.

Blast radius: when more customers than `max_suspensions_per_run` would newly be suspended,
none of those transitions is planned (they are returned in `withheld`, and stay at their
previous stage, to be decided again next run) and the plan carries an alert. Approval: every
action of a transition that newly suspends a customer whose open balance exceeds
`approval_threshold` is marked `requires_approval` (a person releases the whole step).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from riskdesk.collections.evaluate import Decision
from riskdesk.collections.facts import amount_of
from riskdesk.collections.policy import (
    NotifyAction,
    OpenCaseAction,
    Policy,
    StageTable,
    SuspendAction,
    WebhookAction,
)

# Kinds, spelled as `riskdesk.db.models.ActionKind` values (collections stays free of the db).
NOTIFY = "notify_email"
SUSPEND = "suspend_subscription"
REACTIVATE = "reactivate_subscription"
OPEN_CASE = "open_review_case"
WEBHOOK = "webhook"

NON_PAYMENT = "non_payment"

#: `payload["announces"]` of the notice confirming a reinstatement (as `riskdesk.notify`
#: spells it; deciders do not import notify).
REINSTATEMENT = "reinstatement"

#: `payload["origin"]` of every action collections plans: its staleness rule judges only these.
ORIGIN = "collections"

#: How much of the policy version a transition key carries: enough to tell versions apart,
#: short enough to keep the outbox's unique index small.
KEY_VERSION_CHARS = 16


def transition_key(policy_version: str, decision: Decision, number: int = 1) -> str:
    """The key of one stage change; its actions' keys extend it.

    `number` counts the customer's stage changes (1 for its first): leaving and re-entering a
    stage on one day is a new transition, with new keys and so new actions.
    """
    stage = decision.stage or "none"
    return (
        f"collections:{policy_version[:KEY_VERSION_CHARS]}:{decision.customer_id}:{number}:"
        f"{stage}:{decision.as_of}"
    )


@dataclass(frozen=True)
class PlannedAction:
    """One intended action: the outbox row the wiring writes (keyed, so written once)."""

    key: str
    kind: str
    customer_id: int
    stage: str | None  # the stage entered (None: good standing)
    payload: dict[str, Any]
    requires_approval: bool = False


@dataclass(frozen=True)
class Plan:
    """The actions to enqueue and the stage changes to record.

    Iterating a Plan gives its actions. `transitions` are the decisions whose stage changed
    and that are planned (record them in `collection_states`); `withheld` are those stopped
    by the blast radius (leave those customers' state as it is); `alert` says why.
    """

    actions: list[PlannedAction] = field(default_factory=list)
    transitions: list[Decision] = field(default_factory=list)
    withheld: list[Decision] = field(default_factory=list)
    alert: str | None = None

    @property
    def blast_radius_exceeded(self) -> bool:
        return self.alert is not None

    def __iter__(self) -> Iterator[PlannedAction]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)


def _newly_suspends(table: StageTable, decision: Decision) -> bool:
    if not decision.changed:
        return False
    previous = decision.previous_stage
    known = table.severity.get(previous, -1) >= 0
    before = table.holds.get(previous, (False, False))[1] if known else False
    return table.holds.get(decision.stage, (False, False))[1] and not before


def approval_reason(policy: Policy, decision: Decision) -> str | None:
    """Why a suspension of this customer waits for a person, in words; None: it does not."""
    if not requires_approval(policy, decision):
        return None
    balance = decision.facts.get("open_balance")
    currency = getattr(balance, "currency", None) or decision.facts.get("currency")
    threshold = policy.approval_threshold_for(currency)
    if threshold is None:
        return (
            f"no approval threshold is set for {currency}, so every suspension of a customer "
            f"invoiced in {currency} waits for a person"
        )
    return (
        f"the open balance of {amount_of(balance):,} {currency} is over the approval "
        f"threshold of {threshold:,} {currency}"
    )


def requires_approval(policy: Policy, decision: Decision) -> bool:
    """Whether a suspension of this customer waits for a person.

    It does when the open balance is over the policy's threshold for the customer's currency,
    and always for a currency the policy sets no threshold for (a per-currency threshold
    without "*"): an amount is never compared across currencies.
    """
    balance = decision.facts.get("open_balance")
    if balance is None:
        return False
    currency = getattr(balance, "currency", None) or decision.facts.get("currency")
    threshold = policy.approval_threshold_for(currency)
    return threshold is None or amount_of(balance) > threshold


def plan_transitions(
    policy: Policy,
    decisions: Iterable[Decision],
    *,
    max_suspensions: int | None = None,
    recorded: Mapping[int, int] | None = None,
) -> Plan:
    """The actions for every decision whose stage changed (see the module docstring).

    `max_suspensions` replaces the policy's `max_suspensions_per_run` for this plan only (a
    person who has checked the facts lets a large run proceed). `recorded`: how many stage
    changes each customer already has (`collection_states.transitions`; none when missing).
    """
    recorded = recorded or {}
    table = policy.stage_table()
    changed = [d for d in decisions if d.changed]
    suspending = [d for d in changed if _newly_suspends(table, d)]
    withheld: list[Decision] = []
    alert = None
    limit = policy.max_suspensions_per_run if max_suspensions is None else max_suspensions
    if len(suspending) > limit:
        source = (
            "the policy's max_suspensions_per_run"
            if max_suspensions is None
            else "the limit this run was given"
        )
        withheld = suspending
        alert = (
            f"blast radius: {len(suspending)} customers would be suspended in one run, more "
            f"than the limit of {limit} ({source}); no suspension was "
            "planned. Check the facts (a failed payment import?) and the policy; if they are "
            f"right, a named person may let this run proceed with a limit of {len(suspending)}."
        )
    stopped = {id(d) for d in withheld}
    actions: list[PlannedAction] = []
    transitions: list[Decision] = []
    version = policy.version
    for decision in changed:
        if id(decision) in stopped:
            continue
        transitions.append(decision)
        number = recorded.get(decision.customer_id, 0) + 1
        actions.extend(_actions_for(policy, decision, table, version, number))
    return Plan(actions=actions, transitions=transitions, withheld=withheld, alert=alert)


def _scope_key(scope: Any) -> str:
    return repr(sorted(scope.items())) if isinstance(scope, dict) else repr(scope)


def _skipped_suspending_stages(table: StageTable, old_level: int, new_level: int) -> list[str]:
    """Stages between the two levels (exclusive) that suspend, least severe first."""
    return [
        name
        for name, level in table.severity.items()
        if name is not None and old_level < level < new_level and name in table.suspending
    ]


def _actions_for(
    policy: Policy, d: Decision, table: StageTable, version: str, number: int
) -> list[PlannedAction]:
    severity = table.severity
    holds = table.holds
    known = severity.get(d.previous_stage, -1) >= 0
    old_level = severity.get(d.previous_stage, -1) if known else 0
    new_level = severity.get(d.stage, -1)
    # A stage the policy no longer has: assume it held everything, so lifting is planned
    # (the executor does nothing where nothing is held).
    old_suspended = holds.get(d.previous_stage, (False, False))[1] if known else True
    new_suspended = holds.get(d.stage, (False, False))[1]
    approval = _newly_suspends(table, d) and requires_approval(policy, d)
    why_approval = approval_reason(policy, d) if approval else None

    prefix = transition_key(version, d, number)
    base = {
        "origin": ORIGIN,
        "transition": prefix,
        "stage": d.stage,
        "previous_stage": d.previous_stage,
        "policy_version": version,
        "as_of": d.as_of.isoformat(),
        "reason": d.reason,
    }
    if why_approval is not None:
        base["approval_reason"] = why_approval
    out: list[PlannedAction] = []

    def add(suffix: str | int, kind: str, extra: dict[str, Any]) -> None:
        out.append(
            PlannedAction(
                key=f"{prefix}:{suffix}",
                kind=kind,
                customer_id=d.customer_id,
                stage=d.stage,
                payload=base | extra,
                requires_approval=approval,
            )
        )

    def notice(template: str) -> dict[str, Any]:
        # Whether the customer will be told when access is restored (the notice may say so).
        return {"template": template, "confirms_reinstatement": bool(policy.reinstatement_notice)}

    if new_level > old_level or not known:
        # Restrictions of skipped stages not already in force, before the stage's own.
        stage = d.stage
        if new_suspended:
            # Suspensions of skipped stages not already in force (the stage's own come below).
            own = {
                id(a)
                for _, kind, a in table.actions[cast(str, stage)]
                if kind == SuspendAction.kind
            }
            before = (
                {_scope_key(a.scope) for a in table.suspend_actions.get(d.previous_stage, ())}
                if known
                else set()
            )
            held = [
                a
                for a in table.suspend_actions.get(stage, ())
                if id(a) not in own and _scope_key(a.scope) not in before
            ]
            if held and not (known and old_suspended):
                # First suspended by a stage it skipped: that stage's notice tells it so.
                for name in _skipped_suspending_stages(table, old_level, new_level):
                    for i, kind, action in table.actions[name]:
                        if kind == NotifyAction.kind:
                            add(f"hold-notify-{name}-{i}", NOTIFY, notice(action.notify))
            for i, action in enumerate(held):
                add(f"hold-suspend-{i}", SUSPEND, {"reason": NON_PAYMENT, "scope": action.scope})
        for i, kind, action in table.actions[stage] if stage is not None else ():
            if kind == NotifyAction.kind:
                add(i, NOTIFY, notice(action.notify))
            elif kind == SuspendAction.kind:
                add(i, SUSPEND, {"reason": NON_PAYMENT, "scope": action.scope})
            elif kind == OpenCaseAction.kind:
                add(i, OPEN_CASE, {"case": action.open_case})
            elif kind == WebhookAction.kind:
                add(i, WEBHOOK, {"url": action.webhook})

    lifts = False
    if old_suspended and not new_suspended:
        add("reactivate", REACTIVATE, {"reason": NON_PAYMENT})
        lifts = True
    elif old_suspended and new_suspended and new_level < old_level and known:
        # Still suspended, by fewer stages: lift what the lower stage no longer suspends.
        keep = [a.scope for a in table.suspend_actions.get(d.stage, ())]
        lifted = [
            a.scope for a in table.suspend_actions.get(d.previous_stage, ()) if a.scope not in keep
        ]
        for j, scope in enumerate(lifted):
            # `keep`: scopes still suspended; a subscription in one of them stays held.
            add(
                f"reactivate-{j}", REACTIVATE, {"reason": NON_PAYMENT, "scope": scope, "keep": keep}
            )
            lifts = True
    if lifts and policy.reinstatement_notice:
        # After the reactivations: the writer makes it wait for them, and lists only what
        # they give back (nothing given back, no notice).
        add(
            "reinstated",
            NOTIFY,
            {
                "template": policy.reinstatement_notice,
                "announces": REINSTATEMENT,
                "still_suspended": new_suspended,
            },
        )
    return out
