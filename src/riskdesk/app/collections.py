"""Collections use cases: run the policy, preview it, publish it; execute what was planned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from riskdesk.app.deps import Deps
from riskdesk.app.outbox import ExecutionTotals, execute_due
from riskdesk.app.reevaluate import settle_pending
from riskdesk.collections.run import PreviewEvent, RunReport
from riskdesk.collections.run import preview as _preview
from riskdesk.collections.run import run_collections as _run
from riskdesk.errors import InvalidInputError


@dataclass(frozen=True)
class RunRequest:
    as_of: date | None = None
    dry_run: bool = False
    execute: bool = True
    policy: Path | None = None
    max_suspensions: int | None = None
    # Acting on a day other than today is a person's decision: `override_as_of` with a reason
    # (and a named actor), recorded in the run's audit event and its result.
    override_as_of: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class AsOfOverride:
    """A run that acted on a day other than today: who decided it and why."""

    as_of: date
    today: date
    by: str
    reason: str


@dataclass
class RunResult:
    report: RunReport
    executed: ExecutionTotals | None
    as_of_override: AsOfOverride | None = None


def _check_as_of(request: RunRequest, today: date, actor: str | None) -> AsOfOverride | None:
    """A run that acts takes today; another day only for a dry run, or by a named person's
    audited override (a typo of the year, or a past day, must not send or suspend anything)."""
    if request.override_as_of and request.as_of is None:
        raise InvalidInputError("overriding the day of a run needs the day (as_of) to act on")
    if request.as_of is None or request.dry_run:
        return None
    if request.as_of == today and not request.override_as_of:
        return None
    if not request.override_as_of:
        raise InvalidInputError(
            f"as of {request.as_of.isoformat()} is not today ({today.isoformat()}): a run that "
            "acts (plans notices, suspensions, reactivations) takes today; another day is for "
            "a dry run or a preview, or needs an explicit override by a named person with a "
            "reason (recorded in the audit trail)"
        )
    if not actor or not (request.reason or "").strip():
        raise InvalidInputError(
            f"acting as of {request.as_of.isoformat()} instead of today ({today.isoformat()}) "
            "needs the name of who decided it and a reason (recorded in the audit trail)"
        )
    return AsOfOverride(request.as_of, today, actor, (request.reason or "").strip())


def run_collections(deps: Deps, request: RunRequest, *, actor: str | None) -> RunResult:
    """Decide every customer's stage, plan the changes in one transaction, then carry them out.

    Raising the blast radius for one run is a person's decision: it needs a named actor.
    A run that acts takes today (`deps.today()`); `as_of` another day is allowed for a dry run,
    or with `override_as_of`, a named actor and a reason, recorded in the run's audit event.
    """
    if request.max_suspensions is not None and not actor:
        raise InvalidInputError(
            "raising the blast-radius limit for a run needs the name of who decided it "
            "(recorded in the audit trail)"
        )
    today = deps.today()
    override = _check_as_of(request, today, actor)
    engine = deps.engine()
    policy = deps.policy(request.policy)
    if request.execute and not request.dry_run:
        deps.check_effects()
    if not request.dry_run:  # customers a killed command left to be judged again: first
        settle_pending(deps, policy, actor=actor or "collections")
    report = _run(
        engine,
        policy,
        as_of=request.as_of or today,
        dry_run=request.dry_run,
        max_suspensions=request.max_suspensions,
        actor=actor or "collections",
        now=deps.now(),
        run_audit=None if override is None else {"as_of_override": _override_data(override)},
    )
    executed = None
    if request.execute and not request.dry_run:
        executed = execute_due(deps, actor="executor")
    return RunResult(report, executed, override)


def _override_data(override: AsOfOverride) -> dict[str, str]:
    return {
        "as_of": override.as_of.isoformat(),
        "today": override.today.isoformat(),
        "by": override.by,
        "reason": override.reason,
    }


@dataclass
class PreviewResult:
    start: date
    days: int
    events: list[PreviewEvent]
    max_suspensions_per_run: int

    @property
    def held(self) -> list[PreviewEvent]:
        return [e for e in self.events if e.held_by_blast_radius]


def preview(
    deps: Deps, *, days: int, as_of: date | None = None, policy: Path | None = None
) -> PreviewResult:
    """What-if, day by day: who would get which notice and be suspended if nobody paid."""
    if not 1 <= days <= 366:
        raise InvalidInputError(f"days {days}: preview 1 to 366 days ahead")
    rules = deps.policy(policy)
    start = as_of or deps.today()
    events = _preview(deps.engine(), rules, start=start, days=days)
    return PreviewResult(start, days, events, rules.max_suspensions_per_run)


def policy_document(
    deps: Deps, *, policy: Path | None = None, format: Literal["md", "html"] = "md"
) -> str:
    """The enforced policy in plain language for customers (md or html), from the same file."""
    from riskdesk.collections.document import render_policy_document

    if format not in ("md", "html"):
        raise InvalidInputError(f"unknown document format {format!r}: use md or html")
    text = render_policy_document(deps.policy(policy), format=format)
    return text if text.endswith("\n") else text + "\n"
