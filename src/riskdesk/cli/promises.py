"""`promises add | list | cancel`: a customer's promise to pay by a day."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from riskdesk.app import promises as uc
from riskdesk.app.promises import PromiseStatus
from riskdesk.cli import _followup
from riskdesk.cli._common import (
    JsonFlag,
    PolicyOption,
    actor_of,
    console,
    day_in_range,
    deps_of,
    id_in_range,
    money,
    print_json,
    user_errors,
)

promises_app = typer.Typer(no_args_is_help=True, help="Promises to pay, which hold escalation.")

StatusFilter = StrEnum(  # type: ignore[misc]
    "StatusFilter", {**{s.name: s.value for s in PromiseStatus}, "ALL": "all"}
)
ExecuteOption = Annotated[
    bool, typer.Option(help="Carry out what the customer's re-evaluation plans, now.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(promises_app, name="promises")


@promises_app.command("add")
def promises_add(
    ctx: typer.Context,
    customer: Annotated[
        str, typer.Argument(help="Internal id, provider tenant id, domain or exact name.")
    ],
    amount: Annotated[
        str, typer.Option(help="What is promised, in the customer's currency: '1200.00 EUR'.")
    ],
    by_date: Annotated[
        datetime,
        typer.Option(
            "--by-date",
            formats=["%Y-%m-%d"],
            callback=day_in_range,
            help="Paid by this day (today or later).",
        ),
    ],
    note: Annotated[str | None, typer.Option(help="What was agreed, with whom.")] = None,
    execute: ExecuteOption = True,
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a customer's promise to pay; escalation holds from now until that day.

    One promise at a time per customer: cancel the one in force to record another. The
    customer is re-evaluated at once (with the standard policy a promise also lifts a
    suspension).

    Example: [bold]riskdesk promises add 42 --amount "1200.00 EUR" --by-date 2026-05-15[/bold]
    """
    request = uc.PromiseRequest(
        customer=customer,
        amount=amount,
        by_date=by_date.date(),
        note=note,
        execute=execute,
        policy=policy,
    )
    with user_errors(_followup.hint):
        result = uc.add_promise(deps_of(ctx), request, actor=actor_of(ctx))
    if as_json:
        print_json(
            {
                "promise_id": result.promise_id,
                "customer_id": result.customer_id,
                "amount": result.amount,
                "by_date": result.by_date,
                **_followup.as_json(result.followed),
            }
        )
        return
    console.print(
        f"promise #{result.promise_id}: {result.customer} (#{result.customer_id}) pays "
        f"{money(result.amount)} by {result.by_date.isoformat()}"
    )
    _followup.show(result.followed)


@promises_app.command("list")
def promises_list(
    ctx: typer.Context,
    customer: Annotated[
        str | None,
        typer.Argument(
            help="Only this customer (id, tenant id, domain or name).", show_default=False
        ),
    ] = None,
    status: Annotated[StatusFilter, typer.Option(help="Which promises.")] = StatusFilter.ALL,  # type: ignore[attr-defined]
    as_json: JsonFlag = False,
) -> None:
    """List promises to pay, newest first, with what was paid towards each.

    An active promise whose day has passed is shown as lapsed: it holds nothing any more, and
    is judged kept or broken when the customer's next promise is recorded.

    Example: [bold]riskdesk promises list contoso.com --status active[/bold]
    """
    wanted = None if status.value == "all" else PromiseStatus(status.value)
    with user_errors():
        rows = uc.list_promises(deps_of(ctx), customer=customer, status=wanted)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Promises to pay ({status.value})")
    for column in ("id", "customer", "amount", "by", "status", "paid", "recorded", "note"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            f"{r.customer} (#{r.customer_id})",
            money(r.amount),
            r.due_on.isoformat(),
            "active (lapsed)" if r.lapsed else r.status,
            money(r.paid),
            f"{r.promised_on.isoformat()} by {r.created_by}",
            r.note or "",
        )
    console.print(table)


@promises_app.command("cancel")
def promises_cancel(
    ctx: typer.Context,
    promise_id: Annotated[
        int, typer.Argument(help="The active promise's id.", callback=id_in_range)
    ],
    reason: Annotated[str | None, typer.Option(help="Why it is cancelled.")] = None,
    execute: ExecuteOption = True,
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Cancel an active promise to pay; escalation resumes at once if the customer is overdue.

    Example: [bold]riskdesk promises cancel 7 --reason "customer withdrew the promise"[/bold]
    """
    with user_errors(_followup.hint):
        result = uc.cancel_promise(
            deps_of(ctx),
            promise_id,
            reason=reason,
            actor=actor_of(ctx),
            execute=execute,
            policy=policy,
        )
    if as_json:
        print_json(
            {
                "promise_id": result.promise_id,
                "customer_id": result.customer_id,
                **_followup.as_json(result.followed),
            }
        )
        return
    console.print(f"promise #{promise_id} cancelled (customer #{result.customer_id})")
    _followup.show(result.followed)
