"""`cases list | close`: cases a person must look at and close."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from riskdesk.app import cases as uc
from riskdesk.app.cases import CaseStatus
from riskdesk.cli._common import (
    JsonFlag,
    actor_of,
    console,
    deps_of,
    id_in_range,
    print_json,
    user_errors,
)

cases_app = typer.Typer(no_args_is_help=True, help="Cases a person must look at and close.")

CaseFilter = StrEnum("CaseFilter", {**{s.name: s.value for s in CaseStatus}, "ALL": "all"})  # type: ignore[misc]


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    status: Annotated[CaseFilter, typer.Option(help="Which cases.")] = CaseFilter.OPEN,  # type: ignore[attr-defined]
    customer: Annotated[
        str | None, typer.Option(help="Only this customer (id, tenant id, domain or name).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List cases (oldest first): by default the open ones, e.g. collections reviews.

    Example: [bold]riskdesk cases list --status open[/bold]
    """
    wanted = None if status.value == "all" else CaseStatus(status.value)
    with user_errors():
        rows = uc.list_cases(deps_of(ctx), status=wanted, customer=customer)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Cases ({status.value})")
    for column in ("id", "customer", "kind", "title", "opened", "status", "resolution"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            r.customer,
            r.kind,
            r.title,
            r.opened_at.date().isoformat(),
            r.status,
            r.resolution or "",
        )
    console.print(table)


@cases_app.command("close")
def cases_close(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The open case.", callback=id_in_range)],
    by: Annotated[str, typer.Option(help="Who closes it (recorded in the audit trail).")],
    resolution: Annotated[str, typer.Option(help="What was decided.")],
) -> None:
    """Close an open case with what was decided.

    Example: [bold]riskdesk cases close 12 --by j.doe --resolution "payment plan agreed"[/bold]
    """
    with user_errors():
        uc.close_case(deps_of(ctx), case_id, actor=actor_of(ctx, by), resolution=resolution)
    console.print(f"case {case_id} closed")
