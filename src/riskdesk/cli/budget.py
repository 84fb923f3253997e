"""`budget show | set`: a customer's usage spending budget at the provider."""

from __future__ import annotations

from typing import Annotated

import typer

from riskdesk.app import budgets as uc
from riskdesk.cli._common import (
    JsonFlag,
    actor_of,
    console,
    deps_of,
    error_line,
    money,
    print_json,
    user_errors,
)
from riskdesk.errors import EXIT_CODES

budget_app = typer.Typer(
    no_args_is_help=True, help="A customer's usage spending budget at the provider."
)

CustomerArgument = Annotated[
    str, typer.Argument(help="Internal id, provider tenant id, domain or exact name.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(budget_app, name="budget")


def _print(view: uc.BudgetView) -> None:
    kept = money(view.budget) or "none set"
    when = view.synced_at.isoformat(timespec="seconds") if view.synced_at else "never read"
    console.print(f"{view.customer} ({view.provider_customer_id}): budget {kept} (as of {when})")
    if view.read_at_provider:
        live = money(view.at_provider) or "none set"
        verdict = " (differs from the book: the next sync takes it)" if view.differs else ""
        console.print(f"at the provider now: {live}{verdict}")


@budget_app.command("show")
def budget_show(
    ctx: typer.Context,
    customer: CustomerArgument,
    at_provider: Annotated[
        bool, typer.Option(help="Also read the budget from the provider now.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show the customer's usage spending budget as the book keeps it (synced or set).

    Example: [bold]riskdesk budget show contoso.onmicrosoft.com --at-provider[/bold]
    """
    with user_errors():
        view = uc.show_budget(deps_of(ctx), customer, at_provider=at_provider)
    if as_json:
        print_json(view)
        return
    _print(view)


@budget_app.command("set")
def budget_set(
    ctx: typer.Context,
    customer: CustomerArgument,
    amount: Annotated[
        str | None,
        typer.Argument(
            help="The budget in the customer's currency, e.g. 1500.00.", show_default=False
        ),
    ] = None,
    remove: Annotated[bool, typer.Option(help="Remove the budget instead.")] = False,
    by: Annotated[str | None, typer.Option(help="Who sets it (for the audit trail).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the customer's usage spending budget at the provider (kept in the book, audited).

    Example: [bold]riskdesk budget set contoso.onmicrosoft.com 1500.00 --by j.doe[/bold]
    """
    if (amount is None) == (not remove):
        error_line("give an AMOUNT or --remove (not both)")
        raise typer.Exit(EXIT_CODES["invalid"])
    actor = actor_of(ctx, by)
    with user_errors():
        view = uc.set_budget(deps_of(ctx), customer, None if remove else amount, actor=actor)
    if as_json:
        print_json(view)
        return
    _print(view)
