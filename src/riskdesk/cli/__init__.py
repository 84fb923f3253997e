"""The `riskdesk` command (Typer + Rich): parses, calls one use case in `riskdesk.app`, prints.

Every command takes `--database-url` (or RISKDESK_DATABASE_URL; default `sqlite:///riskdesk.db`)
and, where it prints data, `--json` for scripts. A RiskdeskError prints one line on stderr and
exits with the code of its kind (`riskdesk.errors.EXIT_CODES`: 2 invalid input, 3 not found,
4 conflict, 5 forbidden, 6 unavailable); nothing is half-written. `audit verify` exits 1 when
the audit trail is broken. An argument holding a NUL byte is refused before any command runs
(SQLite would store it, PostgreSQL refuses it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from riskdesk.app.bootstrap import bootstrap
from riskdesk.cli import (
    audit,
    book,
    budget,
    cases,
    collections,
    fraud,
    invoices,
    outbox,
    payments,
    promises,
    provider,
    rates,
    service_requests,
)
from riskdesk.cli._common import CommandContext, Overrides, console, default_actor, error_line
from riskdesk.config import Settings
from riskdesk.errors import EXIT_CODES


def _options(command: Any) -> dict[str, Any]:
    return {o: p for p in command.params if p.param_type_name == "option" for o in p.opts}


def _nul_argument(group: Any, args: list[str]) -> str | None:
    """Which option or argument holds a NUL byte (`option --reference`, `argument AMOUNT`)."""
    if not any("\x00" in arg for arg in args):
        return None
    command = group
    options = _options(group)
    positional: list[str] = []
    expecting: Any = None
    for arg in args:
        if expecting is not None:
            if "\x00" in arg:
                return f"option {expecting.opts[-1]}"
            expecting = None
            continue
        name = arg.split("=", 1)[0]
        if arg.startswith("-") and arg != "-":
            if "\x00" in arg:
                return f"option {name}" if "=" in arg else f"argument {arg!r}"
            option = options.get(name)
            if option is not None and not option.is_flag and "=" not in arg:
                expecting = option
            continue
        subcommands = getattr(command, "commands", {})
        if arg in subcommands:
            command = subcommands[arg]
            options.update(_options(command))
            positional = []
            continue
        positional.append(arg)
        if "\x00" in arg:
            names = [p.name or "" for p in command.params if p.param_type_name == "argument"]
            index = len(positional) - 1
            return f"argument {names[index].upper()}" if index < len(names) else repr(arg)
    return "an argument"


class _RiskdeskGroup(TyperGroup):
    """The root group: refuses a NUL byte in any argument before a command parses it."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        where = _nul_argument(self, args)
        if where is not None:
            error_line(f"{where} contains a NUL byte (\\x00); no text riskdesk keeps may hold one")
            raise typer.Exit(EXIT_CODES["invalid"])
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RiskdeskGroup,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    help="riskdesk: the credit, collections and fraud desk of a cloud reseller.\n\n"
    "Example: [bold]riskdesk --database-url sqlite:///book.db customers list[/bold]",
)


@app.callback()
def _global(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="RISKDESK_DATABASE_URL",
            help="SQLAlchemy URL: sqlite:///FILE (default sqlite:///riskdesk.db) or "
            "postgresql+psycopg://USER@HOST/DB.",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="RISKDESK_CONFIG",
            help="Settings file with a \\[provider] table (default ./riskdesk.toml if present).",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="RISKDESK_ACTOR",
            help="Who is acting, for the audit trail (default cli:<your user name>).",
            show_default=False,
        ),
    ] = None,
) -> None:
    _fit_console_width()
    overrides = ctx.obj if isinstance(ctx.obj, Overrides) else Overrides()
    deps = bootstrap(Settings.from_env(database_url, config_file), clock=overrides.clock)
    ctx.obj = CommandContext(deps=deps, actor=actor or default_actor())
    ctx.call_on_close(deps.close)


for module in (
    book,
    provider,
    collections,
    payments,
    invoices,
    promises,
    outbox,
    cases,
    budget,
    service_requests,
    fraud,
    audit,
    rates,
):
    module.register(app)


def _fit_console_width() -> None:
    """Size tables for this invocation: COLUMNS when set, 160 when piped or captured.

    Decided per command, not when the module is imported, so one process running several
    commands (a test runner, a scheduler) gets each one's own width.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        console.width = int(columns)
    elif not console.is_terminal:
        console.width = 160  # piped or captured: tables need room more than a terminal fit


def main() -> None:
    app()
