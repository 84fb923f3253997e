"""`outbox list | approve | cancel | retry`: actions decided and waiting to be done."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from riskdesk.app import outbox as uc
from riskdesk.app.outbox import ActionStatus
from riskdesk.cli._common import (
    JsonFlag,
    actor_of,
    console,
    deps_of,
    id_in_range,
    print_json,
    user_errors,
)

outbox_app = typer.Typer(no_args_is_help=True, help="Actions decided and waiting to be done.")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    status: Annotated[
        ActionStatus | None, typer.Option(help="Only actions in this status.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.", callback=id_in_range)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List outbox actions (newest first); one in progress shows when its lease expires.

    Example: [bold]riskdesk outbox list --status awaiting_approval[/bold]
    """
    with user_errors():
        rows = uc.list_actions(deps_of(ctx), status=status, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Outbox")
    for column in ("id", "kind", "customer", "subscription", "stage", "status", "attempts"):
        table.add_column(column)
    table.add_column("lease expires", overflow="fold")
    table.add_column("why (cancelled, held, failed, waiting)", overflow="fold", max_width=60)
    for r in rows:
        table.add_row(
            str(r.id),
            r.kind,
            str(r.customer_id),
            str(r.subscription_id or ""),
            r.stage or "",
            r.status,
            str(r.attempts),
            f"{r.lease_expires_at:%Y-%m-%d %H:%M:%S}" if r.lease_expires_at else "",
            (r.why or "")[:240],
        )
    console.print(table)


@outbox_app.command("approve")
def outbox_approve(
    ctx: typer.Context,
    action_id: Annotated[
        int, typer.Argument(help="The action waiting for approval.", callback=id_in_range)
    ],
    by: Annotated[str, typer.Option(help="Who approves (recorded in the audit trail).")],
) -> None:
    """Approve an action that waits for a person (e.g. suspending a large account).

    Example: [bold]riskdesk outbox approve 42 --by "j.doe"[/bold]
    """
    with user_errors():
        uc.approve(deps_of(ctx), action_id, actor=actor_of(ctx, by))
    console.print(f"action {action_id} approved; the next run carries it out")


@outbox_app.command("cancel")
def outbox_cancel(
    ctx: typer.Context,
    action_id: Annotated[
        int, typer.Argument(help="A pending or held action.", callback=id_in_range)
    ],
    by: Annotated[str, typer.Option(help="Who cancels (recorded in the audit trail).")],
    reason: Annotated[str, typer.Option(help="Why it must not be carried out.")],
) -> None:
    """Withdraw an action not yet carried out (pending or awaiting approval).

    One in progress can be cancelled once its executor is provably gone (its lease expired, or
    its process no longer runs); any other status is refused (exit 4).

    Example: [bold]riskdesk outbox cancel 42 --by j.doe --reason "delivered, see mail log"[/bold]
    """
    with user_errors():
        uc.cancel(deps_of(ctx), action_id, actor=actor_of(ctx, by), reason=reason)
    console.print(f"action {action_id} cancelled")


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="A failed action.", callback=id_in_range)],
    by: Annotated[str, typer.Option(help="Who retries it (recorded in the audit trail).")],
    reason: Annotated[str, typer.Option(help="Why it is tried again (recorded too).")],
) -> None:
    """Put a failed action back in the queue with a fresh count of attempts.

    One in progress whose executor is provably gone (its lease expired, or its process no
    longer runs) is taken back and queued at once; any other status is refused (exit 4).

    Example: [bold]riskdesk outbox retry 42 --by j.doe --reason "subscription id fixed"[/bold]
    """
    with user_errors():
        uc.retry(deps_of(ctx), action_id, actor=actor_of(ctx, by), reason=reason)
    console.print(f"action {action_id} queued again; the next run carries it out")
