"""`audit verify | show`: check that the audit trail is intact; read it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from riskdesk.app import audit as uc
from riskdesk.cli._common import (
    JsonFlag,
    console,
    deps_of,
    err_console,
    id_in_range,
    print_json,
    user_errors,
)

audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit trail.")

#: Exit status of `audit verify` when the chain is broken (1; usage and other errors as usual).
BROKEN_CHAIN_EXIT = 1


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Check the whole audit trail: every event's hash and its link to the one before.

    Exits 0 and says how many events hold; exits 1 naming the first broken event (its id,
    time and what is wrong) when one was edited, deleted or inserted after it was written.

    Example: [bold]riskdesk audit verify[/bold]
    """
    with user_errors():
        check = uc.verify(deps_of(ctx))
    if as_json:
        print_json({"intact": check.intact, "events": check.events, "broken": check.broken})
    elif check.broken is None:
        console.print(f"audit trail intact: {check.events:,} events, every hash and link holds")
    else:
        b = check.broken
        err_console.print(
            f"[bold red]audit trail broken[/bold red] at event {b.id} "
            f"({b.occurred_at:%Y-%m-%d %H:%M:%S} UTC, {escape(b.action)} by {escape(b.actor)}): "
            f"{escape(b.problem)}",
            highlight=False,
            soft_wrap=True,
            markup=True,
        )
    if not check.intact:
        raise typer.Exit(BROKEN_CHAIN_EXIT)


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    customer: Annotated[
        str | None,
        typer.Option(help="A customer: id, tenant id, domain or exact name (as customers show)."),
    ] = None,
    subscription: Annotated[
        int | None, typer.Option(help="A subscription's riskdesk id.", callback=id_in_range)
    ] = None,
    action_id: Annotated[
        int | None, typer.Option(help="An outbox action's id.", callback=id_in_range)
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who acted (exactly as recorded).")] = None,
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Only this day (UTC).", show_default=False),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="From this day (UTC, included).", show_default=False
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="To this day (UTC, included).", show_default=False),
    ] = None,
    limit: Annotated[
        int, typer.Option(help="At most this many (the newest).", callback=id_in_range)
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Show audit events (oldest first of the newest --limit) matching every filter given.

    Example: [bold]riskdesk audit show --customer contoso.com --since 2026-11-01[/bold]

    Example: [bold]riskdesk audit show --action-id 42 --json[/bold]
    """
    query = uc.EventQuery(
        customer=customer,
        subscription=subscription,
        action_id=action_id,
        actor=actor,
        day=day.date() if day else None,
        since=since.date() if since else None,
        until=until.date() if until else None,
        limit=limit,
    )
    with user_errors():
        rows = uc.show(deps_of(ctx), query)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Audit trail")
    for column in ("id", "when (UTC)", "actor", "action", "subject"):
        table.add_column(column, justify="right" if column == "id" else "left")
    table.add_column("data", overflow="fold", max_width=90)
    for r in rows:
        table.add_row(
            str(r.id),
            f"{r.occurred_at:%Y-%m-%d %H:%M:%S}",
            escape(r.actor),
            escape(r.action),
            f"{r.subject_type} {r.subject_id or ''}".strip(),
            escape(json.dumps(r.data, sort_keys=True, default=str)[:400]),
        )
    console.print(table)
    console.print(f"{len(rows):,} events")
