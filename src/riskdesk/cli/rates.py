"""`rates import`: the reseller's exchange rates, which convert usage in another currency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskdesk.app import rates as uc
from riskdesk.cli._common import JsonFlag, actor_of, console, deps_of, print_json, user_errors

rates_app = typer.Typer(
    no_args_is_help=True, help="Exchange rates that convert usage billed in another currency."
)


def register(app: typer.Typer) -> None:
    app.add_typer(rates_app, name="rates")


@rates_app.command("import")
def rates_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(dir_okay=False, help="CSV: from,to,rate,day,source.")],
    as_json: JsonFlag = False,
) -> None:
    """Import exchange rates: 1 FROM = RATE TO on DAY (YYYY-MM-DD), as stated by SOURCE.

    Unbilled usage billed in another currency than its customer's is converted with the
    row's own Partner Center rate, else with the latest rate of its pair on or before the
    usage day. A bad line refuses the whole file (line and column named); a pair and day
    already known takes the file's rate.

    Example: [bold]riskdesk rates import ecb-rates.csv[/bold]
    """
    with user_errors():
        result = uc.import_rates(deps_of(ctx), file, actor=actor_of(ctx))
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result.rows} rates from {result.file}: {result.added} added, "
        f"{result.replaced} replaced, {result.unchanged} unchanged"
    )
