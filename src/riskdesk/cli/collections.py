"""`collections run | preview | policy-doc`: the published collections policy."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from riskdesk.app import collections as uc
from riskdesk.cli._common import (
    AsOf,
    JsonFlag,
    PolicyOption,
    actor_of,
    console,
    deps_of,
    err_console,
    print_json,
    user_errors,
)

collections_app = typer.Typer(no_args_is_help=True, help="The published collections policy.")

PROCEED_HINT = "once the facts are checked, a person lets one run proceed with: "


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")


def _transitions(report) -> list[dict[str, Any]]:
    """Every planned transition, then those the blast radius holds (marked)."""
    plan = report.plan
    rows = []
    for held, decisions in ((False, report.transitions), (True, plan.withheld if plan else [])):
        for d in decisions:
            rows.append(
                {
                    "customer_id": d.customer_id,
                    "from": d.previous_stage,
                    "to": d.stage,
                    "reason": d.reason,
                    "detail": d.detail,
                    "held_by_blast_radius": held,
                }
            )
    return rows


@collections_app.command("run")
def collections_run(
    ctx: typer.Context,
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option(help="Show the plan; change nothing.")] = False,
    execute: Annotated[
        bool, typer.Option(help="Carry out the planned actions now (provider, mail).")
    ] = True,
    policy: PolicyOption = None,
    max_suspensions: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Raise the blast-radius limit (max_suspensions_per_run) for this run only, "
            "after checking the facts; recorded in the run's audit event.",
        ),
    ] = None,
    override_as_of: Annotated[
        bool,
        typer.Option(
            "--override-as-of",
            help="Act (not only show) as of the --as-of day instead of today; needs --by and "
            "--reason, recorded in the audit trail and the run's report.",
        ),
    ] = False,
    by: Annotated[
        str | None,
        typer.Option(
            help="Who runs it (recorded in the audit trail; needed with --max-suspensions "
            "and --override-as-of)."
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Why a run acts on a day other than today (with --override-as-of)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Find every customer's stage under the policy, plan the changes, and carry them out.

    Planning is one transaction (outbox rows, new stages, audit); the actions are carried out
    after it, so a crash in between is finished by the next run, nothing sent twice.

    A run that acts takes today: --as-of another day is for --dry-run (or `collections
    preview`), or needs --override-as-of with --by and --reason (audited).

    Example: [bold]riskdesk collections run --as-of 2026-11-01 --dry-run[/bold]

    Example: [bold]riskdesk collections run --as-of 2026-11-30 --override-as-of --by j.doe
    --reason "replay the run the outage of 30 Nov missed"[/bold]

    Example: [bold]riskdesk collections run --max-suspensions 140 --by j.doe[/bold] (after a
    blast-radius alert, once the facts are checked)
    """
    request = uc.RunRequest(
        as_of=as_of.date() if as_of else None,
        dry_run=dry_run,
        execute=execute,
        policy=policy,
        max_suspensions=max_suspensions,
        override_as_of=override_as_of,
        reason=reason,
    )
    person_needed = max_suspensions is not None or override_as_of

    def hint(exc: Exception) -> str | None:
        if override_as_of:
            return "say who decided it with --by NAME and why with --reason TEXT"
        if as_of is not None and not dry_run and "is not today" in str(exc):
            return (
                "add --dry-run to see that day's plan, or --override-as-of --by NAME "
                "--reason TEXT to act on it"
            )
        return "say who decided it with --by NAME" if max_suspensions is not None else None

    with user_errors(hint):
        result = uc.run_collections(
            deps_of(ctx), request, actor=by if person_needed else actor_of(ctx, by)
        )
    report = result.report
    alert = _alert_with_hint(report)
    if as_json:
        print_json(
            {
                "as_of": report.as_of,
                "policy_version": report.policy_version,
                "dry_run": dry_run,
                "customers": report.customers,
                "by_stage": report.by_stage,
                "transitions": _transitions(report),
                "actions_planned": report.enqueued,
                "already_planned": report.already_enqueued,
                "awaiting_approval": report.awaiting_approval,
                "in_progress": report.in_progress,
                "in_progress_since": report.in_progress_since,
                "alert": alert,
                "as_of_override": result.as_of_override,
                "executed": result.executed,
            }
        )
        return
    if result.as_of_override:
        o = result.as_of_override
        err_console.print(
            f"[bold yellow]as of {o.as_of} instead of today ({o.today})[/bold yellow], "
            f"by {escape(o.by)}: {escape(o.reason)}",
            highlight=False,
            markup=True,
        )
    _print_report(report, result.executed, alert)


def _alert_with_hint(report) -> str | None:
    if not report.alert:
        return None
    withheld = report.plan.withheld if report.plan else []
    if not withheld or "--max-suspensions" in report.alert:
        return report.alert
    return (
        f"{report.alert} ({PROCEED_HINT}`riskdesk collections run --max-suspensions "
        f"{getattr(report.plan, 'suspensions_wanted', len(withheld))} --by NAME`)"
    )


def _print_report(report, executed, alert: str | None) -> None:
    verb = "would plan" if report.dry_run else "planned"
    console.print(
        f"collections as of {report.as_of} (policy {report.policy_version[:12]}): "
        f"{report.customers:,} customers, {len(report.transitions):,} stage changes, "
        f"{report.enqueued:,} actions {verb}"
    )
    stages = Table(title="Customers by stage")
    stages.add_column("stage")
    stages.add_column("customers", justify="right")
    for stage, count in sorted(report.by_stage.items()):
        stages.add_row(stage, f"{count:,}")
    console.print(stages)
    rows = _transitions(report)
    if report.dry_run and rows:
        table = Table(title="Planned stage changes (held: stopped by the blast radius)")
        for column in ("customer", "from", "to", "reason", "held"):
            table.add_column(column, justify="right" if column == "customer" else "left")
        for r in rows:
            table.add_row(
                str(r["customer_id"]),
                r["from"] or "in good standing",
                r["to"] or "in good standing",
                r["reason"] or "",
                "held: blast radius" if r["held_by_blast_radius"] else "",
            )
        console.print(table)
    elif rows:
        moves: dict[tuple[str, str, bool], int] = {}
        for r in rows:
            key = (r["from"] or "in good standing", r["to"] or "in good standing")
            moves[(*key, r["held_by_blast_radius"])] = (
                moves.get((*key, r["held_by_blast_radius"]), 0) + 1
            )
        table = Table(title="Stage changes")
        for column in ("from", "to", "customers", "held"):
            table.add_column(column, justify="right" if column == "customers" else "left")
        for (old, new, held), count in sorted(moves.items(), key=lambda kv: -kv[1]):
            table.add_row(old, new, f"{count:,}", "held: blast radius" if held else "")
        console.print(table)
    if alert:
        err_console.print(f"[bold red]alert:[/bold red] {escape(alert)}", markup=True)
    if report.awaiting_approval:
        why = getattr(report, "approval_reason", None) or "they need a person's approval"
        console.print(
            f"{report.awaiting_approval:,} planned actions wait for a person ({why}): "
            "riskdesk outbox list --status awaiting_approval"
        )
    if report.in_progress:
        since = report.in_progress_since
        console.print(
            f"{report.in_progress:,} actions are in progress by an executor"
            + (f" (the oldest since {since:%Y-%m-%d %H:%M} UTC)" if since else "")
            + "; one left by an executor that stopped is taken up again by the next run (at "
            "once when its process is gone, else once its lease ends): "
            "riskdesk outbox list --status in_progress"
        )
    if executed:
        console.print(
            f"executed: {executed.done:,} done, {executed.retried:,} to retry later, "
            f"{executed.failed:,} failed, {executed.held:,} held for a person"
        )


@collections_app.command("preview")
def collections_preview(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 30,
    as_of: AsOf = None,
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """What-if: day by day, who would get which notice and who would be suspended if nobody paid.

    Example: [bold]riskdesk collections preview --days 30 --json[/bold]
    """
    with user_errors():
        result = uc.preview(
            deps_of(ctx), days=days, as_of=as_of.date() if as_of else None, policy=policy
        )
    if as_json:
        print_json(result.events)
        return
    table = Table(title=f"If nobody paid: the next {days} days from {result.start}")
    for column in ("day", "customer", "from", "to", "notice", "suspensions", "overdue", "dpd"):
        table.add_column(column, justify="right" if column in ("suspensions", "dpd") else "left")
    for e in result.events:
        table.add_row(
            str(e.day),
            e.customer,
            e.previous_stage or "",
            (e.stage or "in good standing")
            + (" (held: blast radius)" if e.held_by_blast_radius else ""),
            ", ".join(e.notices),
            f"{e.suspends}{' (approval)' if e.requires_approval and e.suspends else ''}",
            e.overdue_amount,
            str(e.days_past_due),
        )
    console.print(table)
    held = result.held
    console.print(f"{len(result.events) - len(held):,} stage changes in {days} days")
    if held:
        first = min(e.day for e in held)
        customers = len({e.customer_id for e in held})
        err_console.print(
            f"[bold red]alert:[/bold red] {customers:,} customers would be held by the blast "
            f"radius (more than {result.max_suspensions_per_run} suspensions in one run), the "
            f"first on {first}: nothing is suspended until a person lets a run proceed "
            "(`collections run --max-suspensions N --by NAME`).",
            markup=True,
        )


class DocFormat(StrEnum):
    MD = "md"
    HTML = "html"


@collections_app.command("policy-doc")
def collections_policy_doc(
    ctx: typer.Context,
    policy: PolicyOption = None,
    format: Annotated[DocFormat, typer.Option("--format", help="Markdown or HTML.")] = DocFormat.MD,
) -> None:
    """Print the enforced policy as plain-language text for customers (Markdown or HTML).

    Generated from the same file the runs enforce, so the two cannot drift apart.

    Example: [bold]riskdesk collections policy-doc --format html > collections-policy.html[/bold]
    """
    import sys

    with user_errors():
        text = uc.policy_document(deps_of(ctx), policy=policy, format=format.value)
    sys.stdout.write(text)
