"""`init`, `demo`, `import`, `customers`, `aging`: the book."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from riskdesk.app import book as uc
from riskdesk.app.demo import DemoRequest, DemoResult, build_demo
from riskdesk.cli._common import (
    AsOf,
    JsonFlag,
    actor_of,
    amount,
    console,
    deps_of,
    err_console,
    money,
    print_json,
    progress_bar,
    stage_reporter,
    user_errors,
)
from riskdesk.cli.provider import print_sync
from riskdesk.errors import EXIT_CODES, RiskdeskError
from riskdesk.imports import KINDS, ImportFileError, RejectFileError

customers_app = typer.Typer(no_args_is_help=True, help="Look up customers and their facts.")

ImportKind = StrEnum("ImportKind", {k.upper().replace("-", "_"): k for k in KINDS})  # type: ignore[misc]


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(demo)
    app.command("import")(import_)
    app.command()(aging)
    app.add_typer(customers_app, name="customers")


def init(ctx: typer.Context) -> None:
    """Create or upgrade the book's schema (safe to run again).

    Example: [bold]riskdesk --database-url postgresql+psycopg://localhost/riskdesk init[/bold]
    """
    with user_errors():
        where = uc.init_book(deps_of(ctx))
    console.print(f"book ready at {where}")


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(help="Number of customers.", min=10)] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, same book.")] = 7,
    as_of: AsOf = None,
    months: Annotated[int, typer.Option(help="Months of history.", min=1, max=36)] = 12,
    truth: Annotated[
        Path, typer.Option(help="Where to write the ground truth (planted behaviours).")
    ] = Path("demo-truth.json"),
    sandbox_state: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the provider sandbox's state, seeded from the demo book; "
            "the book is then synced from it (default demo-sandbox.json; --no-sandbox: none)."
        ),
    ] = Path("demo-sandbox.json"),
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Skip the sandbox.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Fill an empty book with a synthetic reseller book, then print a summary.

    Planted payer behaviours and misuse are written to the --truth file.

    Example: [bold]riskdesk --database-url sqlite:///demo.db demo --customers 500 --seed 3[/bold]
    """
    request = DemoRequest(
        customers=customers,
        seed=seed,
        as_of=as_of.date() if as_of else None,
        months=months,
        truth=truth,
        sandbox_state=None if no_sandbox else sandbox_state,
    )
    with user_errors(), progress_bar(as_json) as progress:
        result = build_demo(
            deps_of(ctx), request, actor=actor_of(ctx), progress=stage_reporter(progress)
        )
    if as_json:
        print_json(
            {
                "summary": result.summary,
                "aging": result.aging,
                "top_exposures": result.top_exposures,
                "truth": str(result.truth),
                "sync": result.sync,
            }
        )
        return
    _print_demo(result)


def _print_demo(result: DemoResult) -> None:
    counts = Table(title=f"Demo book as of {result.as_of}", show_header=True)
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, value in result.summary.counts.items():
        counts.add_row(name, f"{value:,}")
    console.print(counts)
    behaviours = Table(title="Planted behaviours (ground truth)")
    behaviours.add_column("behaviour")
    behaviours.add_column("customers", justify="right")
    for name, value in result.summary.behaviours.items():
        behaviours.add_row(name, f"{value:,}")
    console.print(behaviours)
    print_aging(result.aging, result.as_of)
    _print_exposures(result.top_exposures, result.as_of)
    console.print(f"ground truth written to {result.truth}")
    if result.sync is not None:
        print_sync(result.sync)
        console.print(
            f"provider sandbox state written to {result.sandbox_state}; point commands at it "
            f"with RISKDESK_PROVIDER_SANDBOX_STATE={result.sandbox_state} (e.g. `riskdesk sync`)"
        )


def print_aging(rows, day: date) -> None:
    table = Table(title=f"Aging as of {day}")
    for column in ("currency", "customers", "current", "1-30", "31-60", "61-90", "90+", "open"):
        table.add_column(column, justify="left" if column == "currency" else "right")
    for row in rows:
        table.add_row(
            row.currency,
            f"{row.customers:,}",
            *(
                amount(m)
                for m in (
                    row.current,
                    row.days_1_30,
                    row.days_31_60,
                    row.days_61_90,
                    row.days_over_90,
                    row.total,
                )
            ),
        )
    console.print(table)


def _print_exposures(exposures, day: date) -> None:
    table = Table(title=f"Top exposures as of {day} (per currency)")
    for column in (
        "customer",
        "cur",
        "open balance",
        "overdue",
        "days",
        "unbilled usage",
        "open orders",
        "exposure",
        "credit limit",
    ):
        table.add_column(column, justify="left" if column in ("customer", "cur") else "right")
    for facts in exposures:
        table.add_row(
            facts.name,
            facts.currency,
            amount(facts.open_balance),
            amount(facts.overdue_amount),
            str(facts.days_past_due),
            amount(facts.unbilled_usage),
            amount(facts.open_orders),
            amount(facts.exposure),
            amount(facts.credit_limit),
        )
    console.print(table)


def import_(
    ctx: typer.Context,
    kind: Annotated[ImportKind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Import the good rows; write the bad ones to a reject file.")
    ] = False,
    reject_file: Annotated[
        Path | None, typer.Option(help="Where bad rows go (default FILE.rejects.csv).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing reject file (never the database or the input file).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import a Partner Center export or one of the reseller's own files.

    Kinds: [bold]pc-usage[/bold] (daily rated usage), [bold]pc-invoice[/bold] (billed invoice
    reconciliation), and the reseller's own [bold]customers[/bold],
    [bold]subscriptions[/bold], [bold]invoices[/bold], [bold]payments[/bold] ... (columns in
    the README). By default one bad row rejects the whole file and nothing is written;
    re-importing a file adds nothing (subscriptions: a changed status or quantity updates).

    Example: [bold]riskdesk import pc-usage DailyRatedUsage_2026-11.csv --skip-bad-rows[/bold]
    """
    request = uc.ImportRequest(str(kind.value), file, skip_bad_rows, reject_file, force)
    with user_errors(_reject_hint), progress_bar(as_json, bytes_mode=True) as progress:
        task = None if progress is None else progress.add_task(f"importing {file.name}")

        def report(done: int, total: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=done, total=total)

        try:
            result = uc.import_file(deps_of(ctx), request, actor=actor_of(ctx), progress=report)
        except ImportFileError as exc:
            _print_row_errors(exc)
    if as_json:
        print_json(result)
        return
    updated = f"{result.rows_updated:,} updated, " if result.rows_updated else ""
    console.print(
        f"{result.file}: {result.rows_read:,} rows read, {result.rows_inserted:,} imported, "
        f"{updated}{result.rows_duplicate:,} already in the book, "
        f"{result.rows_rejected:,} rejected"
    )
    if result.ignored_columns:
        console.print(
            f"ignored column(s), not part of the {result.kind} format: "
            + ", ".join(result.ignored_columns),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for note in result.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if result.rows_rejected:
        console.print(f"rejected rows written to {result.reject_path}")


def _reject_hint(exc: RiskdeskError) -> str | None:
    if isinstance(exc, RejectFileError) and exc.exists:
        return "`--force` replaces it, or choose another `--reject-file`"
    return None


def _print_row_errors(exc: ImportFileError) -> None:
    for error in exc.errors[:50]:
        err_console.print(str(error), highlight=False, soft_wrap=True, markup=False)
    if len(exc.errors) > 50:
        err_console.print(f"... and {len(exc.errors) - 50} more bad rows")
    summary = str(exc).splitlines()[0]  # the rest of the message repeats the rows above
    err_console.print(
        f"[bold red]error:[/bold red] {escape(summary)}",
        highlight=False,
        soft_wrap=True,
        markup=True,
    )
    err_console.print(
        "`--skip-bad-rows` imports the good rows (`--reject-file FILE` keeps the bad ones)",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(EXIT_CODES[exc.kind])


@customers_app.command("list")
def customers_list(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option(help="Only customers with this tag.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (0: all).", min=0)] = 50,
    sort: Annotated[uc.CustomerSort, typer.Option(help="Order by.")] = uc.CustomerSort.EXPOSURE,
    as_of: AsOf = None,
    as_json: JsonFlag = False,
) -> None:
    """List customers with their facts (open balance, overdue, exposure ...).

    Example: [bold]riskdesk customers list --sort overdue --limit 20 --as-of 2026-11-01[/bold]
    """
    with user_errors():
        day, facts = uc.list_customers(
            deps_of(ctx), tag=tag, sort=sort, limit=limit, as_of=as_of.date() if as_of else None
        )
    if as_json:
        print_json(facts)
        return
    table = Table(title=f"Customers as of {day}")
    for column in (
        "id",
        "provider id",
        "name",
        "open balance",
        "overdue",
        "days",
        "exposure",
        "credit limit",
    ):
        table.add_column(column, justify="right" if column in ("id", "days") else "left")
    for f in facts:
        table.add_row(
            str(f.customer_id),
            f.provider_customer_id,
            f.name,
            money(f.open_balance),
            money(f.overdue_amount),
            str(f.days_past_due),
            money(f.exposure),
            money(f.credit_limit),
        )
    console.print(table)


@customers_app.command("show")
def customers_show(
    ctx: typer.Context,
    customer: Annotated[
        str, typer.Argument(help="Internal id, provider tenant id, domain or exact name.")
    ],
    as_of: AsOf = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one customer: details, facts, subscriptions and open invoices.

    Example: [bold]riskdesk customers show contoso.onmicrosoft.com[/bold]
    """
    day = as_of.date() if as_of else None
    with user_errors():
        detail = uc.show_customer(deps_of(ctx), customer, day)
    if as_json:
        print_json(detail)
        return
    from riskdesk.cli.customer_view import print_customer

    print_customer(detail, day or deps_of(ctx).today())


def aging(ctx: typer.Context, as_of: AsOf = None, as_json: JsonFlag = False) -> None:
    """Aging of receivables per currency: current, 1-30, 31-60, 61-90, 90+ days past due.

    Example: [bold]riskdesk aging --as-of 2026-10-31 --json[/bold]
    """
    with user_errors():
        day, rows = uc.aging(deps_of(ctx), as_of.date() if as_of else None)
    if as_json:
        print_json(rows)
        return
    print_aging(rows, day)
