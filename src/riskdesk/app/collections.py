"""Collections use cases: run the policy, preview it, publish it; execute what was planned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from riskdesk.app.deps import Deps
from riskdesk.app.outbox import ExecutionTotals, execute_due
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


@dataclass
class RunResult:
    report: RunReport
    executed: ExecutionTotals | None


def run_collections(deps: Deps, request: RunRequest, *, actor: str | None) -> RunResult:
    """Decide every customer's stage, plan the changes in one transaction, then carry them out.

    Raising the blast radius for one run is a person's decision: it needs a named actor.
    """
    if request.max_suspensions is not None and not actor:
        raise InvalidInputError(
            "raising the blast-radius limit for a run needs the name of who decided it "
            "(recorded in the audit trail)"
        )
    engine = deps.engine()
    policy = deps.policy(request.policy)
    if request.execute and not request.dry_run:
        deps.check_effects()
    report = _run(
        engine,
        policy,
        as_of=request.as_of or deps.today(),
        dry_run=request.dry_run,
        max_suspensions=request.max_suspensions,
        actor=actor or "collections",
        now=deps.now(),
    )
    executed = None
    if request.execute and not request.dry_run:
        executed = execute_due(deps, actor="executor")
    return RunResult(report, executed)


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
