"""`fraud event-status`: move the provider's fraud events (Active, Investigating, Resolved)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from riskdesk.app import fraud_events as uc
from riskdesk.cli._common import JsonFlag, actor_of, console, deps_of, print_json, user_errors

fraud_app = typer.Typer(no_args_is_help=True, help="Fraud: the provider's fraud events.")


class EventStatus(StrEnum):
    ACTIVE = "Active"
    INVESTIGATING = "Investigating"
    RESOLVED = "Resolved"


class ResolvedReason(StrEnum):
    FRAUD = "Fraud"
    IGNORE = "Ignore"


def register(app: typer.Typer) -> None:
    app.add_typer(fraud_app, name="fraud")


@fraud_app.command("event-status")
def fraud_event_status(
    ctx: typer.Context,
    subscription: Annotated[str, typer.Argument(help="The Azure subscription of the events.")],
    status: Annotated[EventStatus, typer.Option(help="The new status (forward moves only).")],
    event: Annotated[
        list[str] | None, typer.Option(help="Only this event id (repeatable; default: all).")
    ] = None,
    reason: Annotated[
        ResolvedReason | None,
        typer.Option(help="To resolve: Fraud (it was) or Ignore (it was not)."),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (for the audit trail).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Move a subscription's fraud events at the provider: Active, Investigating, Resolved.

    Example: [bold]riskdesk fraud event-status 3f2c...e1 --status Resolved --reason Fraud[/bold]
    """
    actor = actor_of(ctx, by)
    with user_errors():
        result = uc.set_fraud_event_status(
            deps_of(ctx),
            subscription,
            status.value,
            actor=actor,
            event_ids=list(event or []),
            resolved_reason=reason.value if reason else None,
        )
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Fraud events of {result.subscription_id}: {result.changed} changed")
    for column in ("event", "was", "now", "reason"):
        table.add_column(column)
    for change in result.changes:
        table.add_row(
            change.event_id,
            change.old,
            change.new if change.changed else f"{change.new} (unchanged)",
            change.resolved_reason or "",
        )
    console.print(table)
