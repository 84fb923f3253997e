"""Decide each customer's collections stage: a pure function of facts, policy and as_of.

As Kill Bill's overdue state set does, the stages are tried from the most severe down and the
first whose condition holds wins; when none holds the customer is in good standing (stage
None). Then, in this order:

1. Exemption: a customer with one of the policy's `exempt_tags` has no stage (and leaves any
   stage it was in), whatever its facts.
2. Promise to pay: while a customer's promise is active (its date has not passed), escalation
   is held: the customer stays at most at its current stage. Paying (or anything that lowers
   the stage) still takes effect. With `promise_lifts_suspension` the promise also lifts a
   suspension: the customer goes to the most severe stage below the first suspending one. The
   day after the promise date, escalation resumes.
3. Otherwise the matched stage is the decision.

Grace: the facts row carries the raw days since the oldest undisputed overdue invoice was due;
the conditions see `days_past_due` = raw days - `grace_days` (never below 0).

Every decision records why, and why not: the stage the conditions reached, each stage's
condition result, the facts as the conditions saw them, and a reason code with a sentence.
Nothing here reads a clock, a database or the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from riskdesk.collections.facts import amount_of
from riskdesk.collections.policy import Policy

# Reason codes.
EXEMPT = "exempt"
PROMISE_HOLDS = "promise_holds"
PROMISE_LIFTS_SUSPENSION = "promise_lifts_suspension"
CONDITION = "condition"
NO_CONDITION = "no_condition"


@dataclass(frozen=True)
class Decision:
    """Where one customer stands as of a day, and why."""

    customer_id: int
    stage: str | None
    previous_stage: str | None
    reason: str  # EXEMPT | PROMISE_HOLDS | PROMISE_LIFTS_SUSPENSION | CONDITION | NO_CONDITION
    detail: str  # the reason as a sentence
    matched: str | None  # the most severe stage whose condition holds, before 1. and 2.
    conditions: tuple[tuple[str, bool], ...]  # each stage's condition, least severe first
    facts: Mapping[str, Any] = field(repr=False)  # as the conditions saw them, plus context
    as_of: date
    policy_version: str

    @property
    def changed(self) -> bool:
        return self.stage != self.previous_stage


def _prepare(policy: Policy, row: Mapping[str, Any], as_of: date) -> dict[str, Any]:
    """The row as the conditions see it: grace applied, the promise judged as of `as_of`."""
    facts = dict(row)
    raw = int(facts.get("days_past_due", 0))
    facts["days_since_due"] = raw
    facts["days_past_due"] = max(0, raw - policy.grace_days)
    until = facts.get("promise_until")
    if until is not None:
        facts["has_active_promise"] = until >= as_of
    return facts


def _highest_without_suspension(policy: Policy) -> int:
    """The severity of the most severe stage below the first stage that suspends."""
    for i, stage in enumerate(policy.stages, start=1):
        if stage.suspends:
            return i - 1
    return len(policy.stages)


def _name_at(policy: Policy, level: int) -> str | None:
    return None if level <= 0 else policy.stages[level - 1].name


class _Conclusions:
    """What `_conclude` needs of the policy, looked up once, and the parts of a decision that
    depend only on the condition results (shared between customers with the same results)."""

    def __init__(self, policy: Policy, as_of: date) -> None:
        self.policy = policy
        self.as_of = as_of
        self.version = policy.version
        self.names = tuple(policy.rules.names)
        self.stage_names = tuple(s.name for s in policy.stages)
        self.exempt_tags = frozenset(policy.exempt_tags)
        self.lifts = policy.promise_lifts_suspension
        self.highest_without_suspension = _highest_without_suspension(policy)
        self._by_results: dict[tuple[bool, ...], tuple[tuple[tuple[str, bool], ...], str | None]]
        self._by_results = {}
        self._current: dict[str | None, tuple[int, bool]] = {}
        self._details: dict[str, str] = {}

    def condition_detail(self, matched: str) -> str:
        found = self._details.get(matched)
        if found is None:
            when = self.policy.stage(matched).when.strip()
            found = self._details[matched] = f"stage {matched!r}: {when}"
        return found

    def results(self, results: Sequence[bool]) -> tuple[tuple[tuple[str, bool], ...], str | None]:
        """(conditions, matched) for one customer's condition results."""
        key = tuple(results)
        found = self._by_results.get(key)
        if found is None:
            by_name = dict(zip(self.names, results, strict=True))
            conditions = tuple((n, bool(by_name[n])) for n in self.stage_names)
            matched = next((n for n in self.names if by_name[n]), None)
            found = self._by_results[key] = (conditions, matched)
        return found

    def current(self, current: str | None) -> tuple[int, bool]:
        """(level, suspended) of the current stage (a stage the policy no longer has: 0)."""
        found = self._current.get(current)
        if found is None:
            found = self._current[current] = (
                max(self.policy.severity(current), 0),
                self.policy.holds(current)[1],
            )
        return found


def _conclude(
    policy: Policy,
    facts: dict[str, Any],
    results: Sequence[bool],
    current: str | None,
    as_of: date,
    context: _Conclusions | None = None,
) -> Decision:
    """The decision from the condition results (in `policy.rules.names` order)."""
    if context is None:
        context = _Conclusions(policy, as_of)
    conditions, matched = context.results(results)
    customer_id = cast(int, facts.get("customer_id"))

    def decision(stage: str | None, reason: str, detail: str) -> Decision:
        return Decision(
            customer_id=customer_id,
            stage=stage,
            previous_stage=current,
            reason=reason,
            detail=detail,
            matched=matched,
            conditions=conditions,
            facts=facts,
            as_of=as_of,
            policy_version=context.version,
        )

    tags = facts.get("tags") or ()
    if tags:
        exempt = sorted(context.exempt_tags.intersection(tags))
        if exempt:
            return decision(None, EXEMPT, f"exempt from collections: tag {exempt[0]!r}")

    if facts.get("has_active_promise"):
        level = policy.severity(matched)
        current_level, current_suspended = context.current(current)
        until = facts.get("promise_until")
        by = f" until {until.isoformat()}" if until is not None else ""
        if context.lifts and current_suspended:
            target = min(level, current_level, context.highest_without_suspension)
            stage = _name_at(policy, target)
            return decision(
                stage,
                PROMISE_LIFTS_SUSPENSION,
                f"promise to pay{by} lifts the suspension"
                + (f"; held at {stage!r}" if stage else "")
                + (f" (conditions reach {matched!r})" if matched else ""),
            )
        if level > current_level:
            stage = _name_at(policy, current_level)
            return decision(
                stage,
                PROMISE_HOLDS,
                f"promise to pay{by} holds escalation at {stage or 'good standing'!r}"
                f" (conditions reach {matched!r})",
            )

    if matched is not None:
        return decision(matched, CONDITION, context.condition_detail(matched))
    detail = "no stage condition holds"
    disputed = facts.get("disputed_amount")
    if disputed is not None and amount_of(disputed) > 0:
        detail += f" (disputed {disputed} not counted while the dispute is open)"
    return decision(None, NO_CONDITION, detail)


def decide(
    policy: Policy, facts_row: Mapping[str, Any], current_stage: str | None, *, as_of: date
) -> Decision:
    """The stage of one customer (`facts_row` from `policy_facts`) as of `as_of`."""
    facts = _prepare(policy, facts_row, as_of)
    values = policy.rules.evaluate(facts)
    return _conclude(policy, facts, [values[n] for n in policy.rules.names], current_stage, as_of)


def decide_many(
    policy: Policy,
    rows: Iterable[Mapping[str, Any]],
    current_stages: Mapping[int, str | None],
    as_of: date,
) -> list[Decision]:
    """`decide` for every row (the whole book), the conditions evaluated in one batch.

    `current_stages` maps customer id to its current stage; a customer not in it has none.
    Gives the same decisions as calling `decide` row by row.
    """
    prepared = [_prepare(policy, row, as_of) for row in rows]
    results = policy.rules.evaluate_many(prepared)
    get = current_stages.get
    context = _Conclusions(policy, as_of)
    return [
        _conclude(policy, facts, values, get(cast(int, facts.get("customer_id"))), as_of, context)
        for facts, values in zip(prepared, results, strict=True)
    ]
