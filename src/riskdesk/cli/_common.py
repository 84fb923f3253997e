"""What every command shares: the app's `Deps` from the context, error mapping, output."""

from __future__ import annotations

import getpass
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from riskdesk.app.clock import Clock
from riskdesk.app.deps import Deps
from riskdesk.app.limits import check_actor
from riskdesk.book.customers import LARGEST_ID
from riskdesk.errors import EXIT_CODES, RiskdeskError
from riskdesk.imports.dates import EARLIEST, LATEST
from riskdesk.money import Money

#: C0 and C1 control characters (tab and newline aside): a name from a file or the provider
#: holding an escape sequence must not retitle or recolour the operator's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class PlainConsole(Console):
    """A Rich console that prints what it is given as it is: no markup unless a call asks for
    it (`markup=True`, with the user's text `escape`d), control characters shown as U+FFFD.

    Names and references come from files and the provider: a customer called `[/bold] Co`
    would otherwise be a MarkupError (after a command had written), `[link=...]` a link.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Any:
        return super().render_str(_CONTROL.sub("\ufffd", text), **kwargs)


console = PlainConsole()
err_console = PlainConsole(stderr=True)


@dataclass(frozen=True)
class Overrides:
    """What a test may hand the command instead of the real thing (`CliRunner.invoke(obj=)`)."""

    clock: Clock | None = None


@dataclass
class CommandContext:
    deps: Deps
    actor: str


def command_context(ctx: typer.Context) -> CommandContext:
    return ctx.find_root().obj


def deps_of(ctx: typer.Context) -> Deps:
    return command_context(ctx).deps


def actor_of(ctx: typer.Context, by: str | None = None) -> str:
    """Who acts: an explicit --by, else the global --actor (RISKDESK_ACTOR), else the OS user.

    One longer than the columns that keep who acted is refused here (exit 2), before any
    command writes."""
    actor = by or command_context(ctx).actor
    try:
        check_actor(actor, "--by" if by else "--actor (RISKDESK_ACTOR)")
    except RiskdeskError as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_CODES[exc.kind]) from None
    return actor


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name (a container without /etc/passwd entry)
        return "cli:unknown"


def error_line(message: str) -> None:
    err_console.print(
        f"[bold red]error:[/bold red] {escape(message)}",
        highlight=False,
        soft_wrap=True,
        markup=True,
    )


def _surface_hint(exc: RiskdeskError) -> str | None:
    """What to type next, for errors whose domain text names no command."""
    from riskdesk.app.database import DatabaseMissingError, SchemaNotCurrentError
    from riskdesk.app.payments import PaymentRecordedError

    if isinstance(exc, DatabaseMissingError):
        return "check the --database-url path; `riskdesk init` creates a new, empty book there"
    if isinstance(exc, SchemaNotCurrentError):
        return "run `riskdesk init` (with the same --database-url) first"
    if isinstance(exc, PaymentRecordedError):
        return "once the cause is fixed, `riskdesk collections run` finishes what is left"
    return None


@contextmanager
def user_errors(hint: Callable[[RiskdeskError], str | None] | None = None) -> Iterator[None]:
    """A RiskdeskError becomes one line and the exit code of its kind; anything else is a bug
    and keeps its trace."""
    try:
        yield
    except RiskdeskError as exc:
        error_line(str(exc))
        extra = (hint(exc) if hint else None) or _surface_hint(exc)
        if extra:
            err_console.print(escape(extra), highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CODES[exc.kind]) from None


def jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2) + "\n")


def money(value: Money | None) -> str:
    return "" if value is None else f"{value.amount:,} {value.currency}"


def amount(value: Money | None) -> str:
    return "" if value is None else f"{value.amount:,}"


def day_of(value: datetime | None) -> date | None:
    return value.date() if value else None


@contextmanager
def progress_bar(quiet: bool, *, bytes_mode: bool = False) -> Iterator[Progress | None]:
    if quiet or not err_console.is_terminal:
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn()] if bytes_mode else []
    columns += [TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        yield progress


def stage_reporter(progress: Progress | None) -> Callable[[str, int, int], None]:
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or None)
        progress.update(tasks[stage], completed=done, total=total or None)

    return report


#: The days a command takes (`--as-of`, `--received-on`, `--by-date`): the same range as every
#: imported day (`riskdesk.imports.dates`), so a day typed and a day imported are one rule.
FIRST_DAY = EARLIEST
LAST_DAY = LATEST


def day_in_range(value: datetime | None) -> datetime | None:
    if value is not None and not FIRST_DAY <= value.date() <= LAST_DAY:
        raise typer.BadParameter(
            f"{value.date().isoformat()} is outside the days riskdesk accepts "
            f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})"
        )
    return value


AsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        callback=day_in_range,
        help="Compute as of this day (default today; 2000-01-01 to 2099-12-31).",
    ),
]


def id_in_range(value: int | None) -> int | None:
    """The one rule for every integer id and limit typed (`callback=id_in_range`): 1 to the
    largest id a row can have, so a huge number is a usage error (exit 2), not a crash."""
    if value is not None and not 1 <= value <= LARGEST_ID:
        raise typer.BadParameter(f"{value} is outside 1 to {LARGEST_ID}")
    return value


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        envvar="RISKDESK_POLICY",
        help="The collections policy (YAML) to enforce, relative to the current directory "
        "(default: \\[collections] policy of the settings file, else the shipped standard one).",
        show_default=False,
    ),
]
