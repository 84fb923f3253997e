"""The `riskdesk` command (Typer + Rich).

Every command takes `--database-url` (or RISKDESK_DATABASE_URL; default `sqlite:///riskdesk.db`)
and, where it prints data, `--json` for scripts. Errors a user can cause print one line on
stderr and exit with status 2; nothing is half-written.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from riskdesk.config import Settings
from riskdesk.db.engine import make_engine, migrate, schema_is_current, session_scope
from riskdesk.errors import RiskdeskError
from riskdesk.money import Money

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    help="riskdesk: the credit, collections and fraud desk of a cloud reseller.\n\n"
    "Example: [bold]riskdesk --database-url sqlite:///book.db customers list[/bold]",
)
customers_app = typer.Typer(no_args_is_help=True, help="Look up customers and their facts.")
app.add_typer(customers_app, name="customers")


class ImportKind(StrEnum):
    PC_USAGE = "pc-usage"
    PC_INVOICE = "pc-invoice"
    CUSTOMERS = "customers"
    INVOICES = "invoices"
    PAYMENTS = "payments"


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
            help="Settings file with a [provider] table (default ./riskdesk.toml if present).",
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = Settings.from_env(database_url, config_file)


# --- helpers ---------------------------------------------------------------------------


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show a RiskdeskError as one line and exit 2; anything else is a bug and keeps its trace."""
    try:
        yield
    except RiskdeskError as exc:
        err_console.print(
            f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None


def _engine(ctx: typer.Context, *, require_schema: bool = True) -> Engine:
    settings: Settings = ctx.obj
    engine = make_engine(settings.database_url)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise RiskdeskError(f"cannot open the database {_safe_url(settings)}: {reason}") from None
    if require_schema and not schema_is_current(engine):
        raise RiskdeskError(
            f"the database at {_safe_url(settings)} is not initialised or is out of date: "
            "run `riskdesk init` first"
        )
    return engine


def _safe_url(settings: Settings) -> str:
    """The database URL with any password hidden."""
    return make_url(settings.database_url).render_as_string(hide_password=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(value), indent=2) + "\n")


def _today() -> date:
    return datetime.now(UTC).date()


def _money(value: Money | None) -> str:
    return "" if value is None else f"{value.amount:,} {value.currency}"


AsOf = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Compute as of this day (default today)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


# --- commands --------------------------------------------------------------------------


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the book's schema (safe to run again).

    Example: [bold]riskdesk --database-url postgresql+psycopg://localhost/riskdesk init[/bold]
    """
    with _user_errors():
        engine = _engine(ctx, require_schema=False)
        migrate(engine)
        console.print(f"book ready at {_safe_url(ctx.obj)}")


@app.command()
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
    from riskdesk.book.facts import aging_summary, top_exposures
    from riskdesk.demo import build_demo_book

    with _user_errors():
        engine = _engine(ctx, require_schema=False)
        migrate(engine)
        _require_empty_book(engine)
        day = as_of.date() if as_of else _today()
        with _progress(as_json) as progress:
            summary = build_demo_book(
                engine,
                customers=customers,
                seed=seed,
                as_of=day,
                months=months,
                truth_path=truth,
                progress=_stage_reporter(progress),
            )
        sync_report = None
        if sandbox_state is not None and not no_sandbox:
            sync_report = _demo_sandbox(engine, sandbox_state, truth, as_json)
        with engine.connect() as connection:
            aging = aging_summary(connection, day)
            # Amounts in different currencies cannot be ranked together: the largest few in
            # each of the three currencies with the most customers owing.
            biggest = sorted(aging, key=lambda row: -row.customers)[:3]
            exposures = [
                facts
                for row in biggest
                for facts in top_exposures(connection, day, limit=4, currency=row.currency)
            ]
        if as_json:
            _print_json(
                {
                    "summary": summary,
                    "aging": aging,
                    "top_exposures": exposures,
                    "truth": str(truth),
                    "sync": sync_report,
                }
            )
            return
        _print_demo_summary(summary, aging, exposures, day, truth)
        if sync_report is not None:
            _print_sync(sync_report)
            console.print(
                f"provider sandbox state written to {sandbox_state}; point commands at it with "
                f"RISKDESK_PROVIDER_SANDBOX_STATE={sandbox_state} (e.g. `riskdesk sync`)"
            )


def _demo_sandbox(engine: Engine, state_file: Path, truth: Path, quiet: bool):
    """Seed a sandbox from the demo book, save it, and sync the book from it over HTTP."""
    from riskdesk.demo.sandbox_seed import seed_sandbox_state
    from riskdesk.providers.sandbox import start_sandbox
    from riskdesk.providers.settings import ProviderSettings, build_provider
    from riskdesk.providers.sync import mark_invoices_synced, sync_book

    state = seed_sandbox_state(engine, truth_path=truth, path=state_file)
    state.save()
    # The book is where the sandbox's billed usage came from: read only what is unbilled.
    mark_invoices_synced(engine, state.invoices())
    settings = ProviderSettings(kind="sandbox")
    with start_sandbox(state, token=settings.sandbox_token.get_secret_value()) as sandbox:
        provider = build_provider(settings.model_copy(update={"base_url": sandbox.base_url}))
        with _progress(quiet) as progress:
            return sync_book(engine, provider, progress=_stage_reporter(progress))


def _stage_reporter(progress: Progress | None):
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or None)
        progress.update(tasks[stage], completed=done, total=total or None)

    return report


def _print_sync(report) -> None:
    table = Table(title=f"Sync from the provider ({report.seconds:.1f} s)")
    for column in ("", "seen", "new", "changed"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "customers",
        f"{report.customers_seen:,}",
        f"{report.customers_new:,}",
        f"{report.customers_updated:,}",
    )
    table.add_row(
        "subscriptions",
        f"{report.subscriptions_seen:,}",
        f"{report.subscriptions_new:,}",
        f"{report.subscriptions_updated:,}",
    )
    table.add_row("usage rows", f"{report.usage_read:,}", f"{report.usage_inserted:,}", "")
    table.add_row(
        "fraud events",
        f"{report.fraud_events_seen:,}",
        f"{report.fraud_events_new:,}",
        f"{report.fraud_events_updated:,}",
    )
    console.print(table)
    if report.differences:
        differences = Table(title="Differences between the book and the provider")
        for column in ("kind", "provider id", "customer", "book", "provider", "adopted"):
            differences.add_column(column)
        for d in report.differences:
            differences.add_row(
                d.kind,
                d.subject,
                d.customer,
                d.book or "",
                d.provider or "",
                "yes" if d.adopted else "",
            )
        console.print(differences)
    else:
        console.print("no differences between the book and the provider")


@app.command()
def sync(
    ctx: typer.Context,
    adopt_provider_status: Annotated[
        bool,
        typer.Option(help="Take the provider's subscription status into the book (audited)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Pull customers, subscriptions, usage and fraud events from the provider into the book.

    Differences (a subscription suspended at the provider but active in the book, ...) are
    reported and audited, never silently overwritten. Safe to repeat: nothing is doubled.

    Example: [bold]riskdesk --config riskdesk.toml sync --json[/bold]
    (after `make demo`: RISKDESK_PROVIDER_SANDBOX_STATE=demo-sandbox.json riskdesk sync)
    """
    from riskdesk.providers.settings import ProviderSettings, open_provider
    from riskdesk.providers.sync import sync_book

    with _user_errors():
        engine = _engine(ctx)
        settings = ProviderSettings.load(ctx.obj.config_file)
        with open_provider(settings) as provider, _progress(as_json) as progress:
            report = sync_book(
                engine,
                provider,
                adopt_provider_status=adopt_provider_status,
                progress=_stage_reporter(progress),
            )
    if as_json:
        _print_json(report)
        return
    _print_sync(report)


@app.command()
def sandbox(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Loopback port (0: any free port).")] = 8080,
    state: Annotated[
        Path | None, typer.Option(help="State file: loaded if it exists, saved on every change.")
    ] = None,
    seed_from_book: Annotated[
        bool, typer.Option(help="Without a state file: seed from the book (--database-url).")
    ] = False,
    truth: Annotated[
        Path | None, typer.Option(help="Demo ground truth: adds the planted fraud events.")
    ] = None,
    throttle_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered 429.")
    ] = 0.0,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered 500/503.")
    ] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Added to every response.")] = 0,
    token: Annotated[
        str, typer.Option(envvar="RISKDESK_PROVIDER_SANDBOX_TOKEN", help="Bearer token to accept.")
    ] = "sandbox-token",  # noqa: S107 - the local sandbox's well-known default
    seed: Annotated[int | None, typer.Option(help="Makes the injected faults repeatable.")] = None,
) -> None:
    """Serve a local Partner-Center-compatible API until Ctrl-C (for demos and tests).

    Point riskdesk at it with RISKDESK_PROVIDER_KIND=sandbox and
    RISKDESK_PROVIDER_BASE_URL=http://127.0.0.1:PORT.

    Example: [bold]riskdesk sandbox --state demo-sandbox.json --throttle-rate 0.3[/bold]
    """
    from functools import partial

    from riskdesk.demo.sandbox_seed import seed_sandbox_from_database
    from riskdesk.providers.sandbox import serve

    with _user_errors():
        serve(
            port,
            state,
            throttle_rate,
            error_rate,
            latency_ms,
            token,
            seed_state=partial(seed_sandbox_from_database, ctx.obj.database_url, truth_path=truth)
            if seed_from_book
            else None,
            seed=seed,
        )


def _require_empty_book(engine: Engine) -> None:
    from sqlalchemy import func, select

    from riskdesk.db.models import Customer

    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(Customer)):
            raise RiskdeskError(
                "the book already has customers; the demo needs an empty database "
                "(use a new --database-url)"
            )


@contextmanager
def _progress(quiet: bool, *, bytes_mode: bool = False) -> Iterator[Progress | None]:
    if quiet or not err_console.is_terminal:
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn()] if bytes_mode else []
    columns += [TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        yield progress


def _print_demo_summary(summary, aging, exposures, day: date, truth: Path) -> None:
    counts = Table(title=f"Demo book as of {day}", show_header=True)
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, value in summary.counts.items():
        counts.add_row(name, f"{value:,}")
    console.print(counts)
    behaviours = Table(title="Planted behaviours (ground truth)")
    behaviours.add_column("behaviour")
    behaviours.add_column("customers", justify="right")
    for name, value in summary.behaviours.items():
        behaviours.add_row(name, f"{value:,}")
    console.print(behaviours)
    _print_aging(aging, day)
    _print_exposures(exposures, day)
    console.print(f"ground truth written to {truth}")


def _print_aging(aging, day: date) -> None:
    table = Table(title=f"Aging as of {day}")
    for column in ("currency", "customers", "current", "1-30", "31-60", "61-90", "90+", "open"):
        table.add_column(column, justify="left" if column == "currency" else "right")
    for row in aging:
        table.add_row(
            row.currency,
            f"{row.customers:,}",
            *(
                f"{m.amount:,}"
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
            _amount(facts.open_balance),
            _amount(facts.overdue_amount),
            str(facts.days_past_due),
            _amount(facts.unbilled_usage),
            _amount(facts.open_orders),
            _amount(facts.exposure),
            _amount(facts.credit_limit),
        )
    console.print(table)


def _amount(value: Money | None) -> str:
    return "" if value is None else f"{value.amount:,}"


@app.command("import")
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
    as_json: JsonFlag = False,
) -> None:
    """Import a Partner Center export or one of the reseller's own files.

    Kinds: [bold]pc-usage[/bold] (daily rated usage), [bold]pc-invoice[/bold] (billed invoice
    reconciliation), [bold]customers[/bold], [bold]invoices[/bold], [bold]payments[/bold]
    (columns in the README). By default one bad row rejects the whole file and nothing is
    written; re-importing a file adds nothing.

    Example: [bold]riskdesk import pc-usage DailyRatedUsage_2026-11.csv --skip-bad-rows[/bold]
    """
    from riskdesk.imports import ImportFileError, import_file

    engine = _engine_or_exit(ctx)
    try:
        with _progress(as_json, bytes_mode=True) as progress:
            task = None if progress is None else progress.add_task(f"importing {file.name}")

            def report(done: int, total: int) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=done, total=total)

            result = import_file(
                engine,
                kind.value,
                file,
                skip_bad_rows=skip_bad_rows,
                reject_path=reject_file,
                progress=report,
            )
    except ImportFileError as exc:
        for error in exc.errors[:50]:
            err_console.print(str(error), highlight=False, soft_wrap=True, markup=False)
        if len(exc.errors) > 50:
            err_console.print(f"... and {len(exc.errors) - 50} more bad rows")
        summary = str(exc).splitlines()[0]  # the rest of the message repeats the rows above
        err_console.print(
            f"[bold red]error:[/bold red] {escape(summary)}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    except RiskdeskError as exc:
        err_console.print(
            f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    if as_json:
        _print_json(result)
        return
    console.print(
        f"{result.file}: {result.rows_read:,} rows read, {result.rows_inserted:,} imported, "
        f"{result.rows_duplicate:,} already in the book, {result.rows_rejected:,} rejected"
    )
    if result.rows_rejected:
        console.print(f"rejected rows written to {result.reject_path}")


def _engine_or_exit(ctx: typer.Context) -> Engine:
    with _user_errors():
        return _engine(ctx)


@customers_app.command("list")
def customers_list(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option(help="Only customers with this tag.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (0: all).")] = 50,
    sort: Annotated[
        str, typer.Option(help="Order by: exposure, overdue, days, name.")
    ] = "exposure",
    as_of: AsOf = None,
    as_json: JsonFlag = False,
) -> None:
    """List customers with their facts (open balance, overdue, exposure ...).

    Example: [bold]riskdesk customers list --sort overdue --limit 20 --as-of 2026-11-01[/bold]
    """
    from riskdesk.book.facts import customer_facts

    keys = {
        "exposure": lambda f: -f.exposure.amount,
        "overdue": lambda f: -f.overdue_amount.amount,
        "days": lambda f: -f.days_past_due,
        "name": lambda f: f.name.lower(),
    }
    with _user_errors():
        if sort not in keys:
            raise RiskdeskError(f"unknown --sort {sort!r}: use one of {', '.join(keys)}")
        engine = _engine(ctx)
        day = as_of.date() if as_of else _today()
        with engine.connect() as connection:
            facts = customer_facts(connection, day)
        if tag:
            tagged = _customer_ids_with_tag(engine, tag)
            facts = [f for f in facts if f.customer_id in tagged]
        facts.sort(key=keys[sort])
        if limit:
            facts = facts[:limit]
    if as_json:
        _print_json(facts)
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
            _money(f.open_balance),
            _money(f.overdue_amount),
            str(f.days_past_due),
            _money(f.exposure),
            _money(f.credit_limit),
        )
    console.print(table)


def _customer_ids_with_tag(engine: Engine, tag: str) -> set[int]:
    from riskdesk.book.customers import list_customers

    with session_scope(engine) as session:
        return {c.id for c in list_customers(session, tag=tag)}


@customers_app.command("show")
def customers_show(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Internal id, provider tenant id or name.")],
    as_of: AsOf = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one customer: details, facts, subscriptions and open invoices.

    Example: [bold]riskdesk customers show 8d3f2c1e-0000-4000-8000-000000000001[/bold]
    """
    from riskdesk.book.detail import customer_detail

    with _user_errors():
        engine = _engine(ctx)
        day = as_of.date() if as_of else _today()
        with session_scope(engine) as session:
            detail = customer_detail(session, customer, day)
    if as_json:
        _print_json(detail)
        return
    _print_customer(detail, day)


def _print_customer(detail, day: date) -> None:
    c, f = detail.customer, detail.facts
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    for label, value in (
        ("customer", f"{c.name} (#{c.id})"),
        ("provider id", c.provider_customer_id),
        ("domain", c.domain or ""),
        ("country", c.country or ""),
        ("billing e-mail", c.billing_email or ""),
        ("terms", f"{c.payment_terms_days} days"),
        ("tags", ", ".join(c.tags)),
        ("customer since", str(c.created_on)),
        ("credit limit", _money(f.credit_limit)),
        ("open balance", _money(f.open_balance)),
        ("overdue", f"{_money(f.overdue_amount)} ({f.days_past_due} days past due)"),
        ("unbilled usage", _money(f.unbilled_usage)),
        ("open orders", _money(f.open_orders)),
        ("exposure", _money(f.exposure)),
        ("unapplied credit", _money(f.unapplied_credit)),
    ):
        info.add_row(label, value)
    console.print(info)
    subs = Table(title="Subscriptions")
    for column in ("provider id", "offer", "kind", "qty", "status", "held for"):
        subs.add_column(column)
    for s in detail.subscriptions:
        subs.add_row(
            s.provider_subscription_id,
            s.offer_name,
            s.kind,
            str(s.quantity),
            s.provider_status,
            ", ".join(s.suspension_reasons),
        )
    console.print(subs)
    invoices = Table(title=f"Unpaid invoices as of {day}")
    for column in ("number", "issued", "due", "total", "open", "days past due", "disputed"):
        invoices.add_column(column)
    for i in detail.open_invoices:
        invoices.add_row(
            i.number,
            str(i.issued_on),
            str(i.due_on),
            _money(i.total),
            _money(i.open_amount),
            str(i.days_past_due),
            "yes" if i.disputed else "",
        )
    console.print(invoices)


@app.command()
def aging(ctx: typer.Context, as_of: AsOf = None, as_json: JsonFlag = False) -> None:
    """Aging of receivables per currency: current, 1-30, 31-60, 61-90, 90+ days past due.

    Example: [bold]riskdesk aging --as-of 2026-10-31 --json[/bold]
    """
    from riskdesk.book.facts import aging_summary

    with _user_errors():
        engine = _engine(ctx)
        day = as_of.date() if as_of else _today()
        with engine.connect() as connection:
            rows = aging_summary(connection, day)
    if as_json:
        _print_json(rows)
        return
    _print_aging(rows, day)


def main() -> None:
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160  # piped or captured: tables need room more than a terminal fit
    app()


# --- collections ------------------------------------------------------------------------

collections_app = typer.Typer(no_args_is_help=True, help="The published collections policy.")
app.add_typer(collections_app, name="collections")
payments_app = typer.Typer(no_args_is_help=True, help="Payments received from customers.")
app.add_typer(payments_app, name="payments")
outbox_app = typer.Typer(no_args_is_help=True, help="Actions decided and waiting to be done.")
app.add_typer(outbox_app, name="outbox")
cases_app = typer.Typer(no_args_is_help=True, help="Cases a person must look at and close.")
app.add_typer(cases_app, name="cases")

DEFAULT_POLICY = Path("policies/standard.yaml")
PolicyOption = Annotated[
    Path,
    typer.Option(
        "--policy", envvar="RISKDESK_POLICY", help="The collections policy (YAML) to enforce."
    ),
]


def _load_policy(path: Path):
    from riskdesk.collections.policy import load_policy

    return load_policy(path)


@contextmanager
def _executor(ctx: typer.Context, engine: Engine):
    """The executor with the configured provider and mailer (see README: configuration)."""
    from riskdesk.actions.executor import Executor
    from riskdesk.notify.mail import mailer_from_env
    from riskdesk.providers.settings import ProviderSettings, open_provider

    mailer = mailer_from_env()
    settings = ProviderSettings.load(ctx.obj.config_file)
    with open_provider(settings) as provider:
        yield Executor(engine, provider, mailer)


def _execute(ctx: typer.Context, engine: Engine, quiet: bool) -> dict[str, int]:
    with _executor(ctx, engine) as executor:
        total = {"done": 0, "retried": 0, "failed": 0, "held": 0}
        while True:
            report = executor.run_once(limit=500)
            total["done"] += report.done
            total["retried"] += report.retried
            total["failed"] += report.failed
            total["held"] += report.held if isinstance(report.held, int) else len(report.held)
            if report.claimed < 500:  # nothing more due
                break
    if not quiet:
        console.print(
            f"executed: {total['done']:,} done, {total['retried']:,} to retry later, "
            f"{total['failed']:,} failed"
        )
    return total


@collections_app.command("run")
def collections_run(
    ctx: typer.Context,
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option(help="Show the plan; change nothing.")] = False,
    execute: Annotated[
        bool, typer.Option(help="Carry out the planned actions now (provider, mail).")
    ] = True,
    policy: PolicyOption = DEFAULT_POLICY,
    max_suspensions: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Raise the blast-radius limit (max_suspensions_per_run) for this run only, "
            "after checking the facts; recorded in the run's audit event.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Who runs it (recorded in the audit trail; needed with --max-suspensions)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Find every customer's stage under the policy, plan the changes, and carry them out.

    Planning is one transaction (outbox rows, new stages, audit); the actions are carried out
    after it, so a crash in between is finished by the next run, nothing sent twice.

    Example: [bold]riskdesk collections run --as-of 2026-11-01 --dry-run[/bold]

    Example: [bold]riskdesk collections run --max-suspensions 140 --by j.doe[/bold] (after a
    blast-radius alert, once the facts are checked)
    """
    from riskdesk.collections.run import run_collections

    with _user_errors():
        if max_suspensions is not None and not by:
            raise RiskdeskError(
                "--max-suspensions overrides the policy's blast radius: say who decided it "
                "with --by NAME (recorded in the audit trail)"
            )
        engine = _engine(ctx)
        rules = _load_policy(policy)
        day = as_of.date() if as_of else _today()
        report = run_collections(
            engine,
            rules,
            as_of=day,
            dry_run=dry_run,
            max_suspensions=max_suspensions,
            actor=by or "collections",
        )
        executed = None
        if execute and not dry_run:
            executed = _execute(ctx, engine, quiet=True)
    if as_json:
        _print_json(
            {
                "as_of": day,
                "policy_version": report.policy_version,
                "dry_run": dry_run,
                "customers": report.customers,
                "by_stage": report.by_stage,
                "transitions": [
                    {
                        "customer_id": d.customer_id,
                        "from": d.previous_stage,
                        "to": d.stage,
                        "reason": d.reason,
                        "detail": d.detail,
                    }
                    for d in report.transitions
                ],
                "actions_planned": report.enqueued,
                "already_planned": report.already_enqueued,
                "awaiting_approval": report.awaiting_approval,
                "alert": report.alert,
                "executed": executed,
            }
        )
        return
    _print_collections_report(report, executed)


def _print_collections_report(report, executed) -> None:
    verb = "would plan" if report.dry_run else "planned"
    console.print(
        f"collections as of {report.as_of} (policy {report.policy_version[:12]}): "
        f"{report.customers:,} customers, {len(report.transitions):,} stage changes, "
        f"{report.enqueued:,} actions {verb}"
    )
    stages = Table(title="Customers by stage")
    stages.add_column("stage")
    stages.add_column("customers", justify="right")
    for stage, count in sorted(report.by_stage.items()):
        stages.add_row(stage, f"{count:,}")
    console.print(stages)
    moves: dict[tuple[str, str], int] = {}
    for d in report.transitions:
        key = (d.previous_stage or "in good standing", d.stage or "in good standing")
        moves[key] = moves.get(key, 0) + 1
    if moves:
        table = Table(title="Stage changes")
        for column in ("from", "to", "customers"):
            table.add_column(column, justify="right" if column == "customers" else "left")
        for (old, new), count in sorted(moves.items(), key=lambda kv: -kv[1]):
            table.add_row(old, new, f"{count:,}")
        console.print(table)
    if report.alert:
        err_console.print(f"[bold red]alert:[/bold red] {escape(report.alert)}")
    if report.awaiting_approval:
        console.print(
            f"{report.awaiting_approval:,} planned actions wait for a person (balances over "
            "the approval threshold): riskdesk outbox list --status awaiting_approval"
        )
    if executed:
        console.print(
            f"executed: {executed['done']:,} done, {executed['retried']:,} to retry later, "
            f"{executed['failed']:,} failed, {executed['held']:,} held for a person"
        )


@collections_app.command("preview")
def collections_preview(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 30,
    as_of: AsOf = None,
    policy: PolicyOption = DEFAULT_POLICY,
    as_json: JsonFlag = False,
) -> None:
    """What-if: day by day, who would get which notice and who would be suspended if nobody paid.

    Example: [bold]riskdesk collections preview --days 30 --json[/bold]
    """
    from riskdesk.collections.run import preview

    with _user_errors():
        engine = _engine(ctx)
        rules = _load_policy(policy)
        day = as_of.date() if as_of else _today()
        events = preview(engine, rules, start=day, days=days)
    if as_json:
        _print_json(events)
        return
    table = Table(title=f"If nobody paid: the next {days} days from {day}")
    for column in ("day", "customer", "from", "to", "notice", "suspensions", "overdue", "dpd"):
        table.add_column(column, justify="right" if column in ("suspensions", "dpd") else "left")
    held = [e for e in events if e.held_by_blast_radius]
    for e in events:
        table.add_row(
            str(e.day),
            e.customer,
            e.previous_stage or "",
            (e.stage or "in good standing")
            + (" (held: blast radius)" if e.held_by_blast_radius else ""),
            ", ".join(e.notices),
            f"{e.suspends}{' (approval)' if e.requires_approval and e.suspends else ''}",
            e.overdue_amount,
            str(e.days_past_due),
        )
    console.print(table)
    console.print(f"{len(events) - len(held):,} stage changes in {days} days")
    if held:
        first = min(e.day for e in held)
        customers = len({e.customer_id for e in held})
        err_console.print(
            f"[bold red]alert:[/bold red] {customers:,} customers would be held by the blast "
            f"radius (more than {rules.max_suspensions_per_run} suspensions in one run), the "
            f"first on {first}: nothing is suspended until a person lets a run proceed "
            "(`collections run --max-suspensions N --by NAME`)."
        )


@collections_app.command("policy-doc")
def collections_policy_doc(
    policy: PolicyOption = DEFAULT_POLICY,
    format: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
) -> None:
    """Print the enforced policy as plain-language text for customers (Markdown or HTML).

    Generated from the same file the runs enforce, so the two cannot drift apart.

    Example: [bold]riskdesk collections policy-doc --format html > collections-policy.html[/bold]
    """
    from riskdesk.collections.document import render_policy_document

    with _user_errors():
        if format not in ("md", "html"):
            raise RiskdeskError(f"unknown --format {format!r}: use md or html")
        text = render_policy_document(_load_policy(policy), format=format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _payment_money(amount: str, currency: str) -> Money:
    """`amount` in `currency`, refused (never rounded) when finer than the currency's minor unit."""
    from riskdesk.money import minor_units, to_decimal

    code = currency.strip().upper()
    try:
        places = minor_units(code)
        value = to_decimal(amount.strip())
    except (ValueError, TypeError) as exc:
        raise RiskdeskError(f"amount {amount!r} {currency!r}: {exc}") from None
    _, digits, exponent = value.as_tuple()
    extra = -int(exponent) - places  # digits given beyond the minor unit
    if extra > 0 and any(digits[-extra:]):
        raise RiskdeskError(
            f"amount {amount.strip()} {code} is finer than {code} allows ({places} decimal"
            f"{'' if places == 1 else 's'}): give the amount exactly as received"
        )
    return Money(value, code)


def _check_execute_config(ctx: typer.Context) -> None:
    """Raise ConfigError if `_execute` could not start (mail, provider settings); no network."""
    from riskdesk.errors import ConfigError
    from riskdesk.notify.mail import mailer_from_env
    from riskdesk.providers.settings import (
        ProviderSettings,
        build_provider,
        build_token_provider,
    )

    mailer_from_env()
    settings = ProviderSettings.load(ctx.obj.config_file)
    if settings.kind == "sandbox" and not settings.base_url:
        if not settings.sandbox_state:
            build_provider(settings)  # raises the ConfigError naming what is missing
        elif not Path(settings.sandbox_state).is_file():
            raise ConfigError(f"provider sandbox_state {settings.sandbox_state}: no such file")
    else:
        build_token_provider(settings)  # credentials present and readable; no connection


@payments_app.command("record")
def payments_record(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Internal id, provider tenant id or name.")],
    amount: Annotated[str, typer.Argument(help="Amount, e.g. 1550.25")],
    currency: Annotated[str, typer.Argument(help="ISO 4217 code, e.g. EUR")],
    reference: Annotated[str, typer.Option(help="The payment's unique reference.")],
    received_on: Annotated[
        datetime | None,
        typer.Option(
            "--received-on", formats=["%Y-%m-%d"], help="Day received (default today; not later)."
        ),
    ] = None,
    invoice: Annotated[
        list[str] | None, typer.Option(help="An invoice the payment is for (repeatable).")
    ] = None,
    execute: Annotated[bool, typer.Option(help="Carry out reinstatement now.")] = True,
    policy: PolicyOption = DEFAULT_POLICY,
    as_json: JsonFlag = False,
) -> None:
    """Record a payment and re-evaluate that customer at once (reinstating if it now qualifies).

    The customer is re-evaluated as of today, also for a payment received on an earlier day.
    Everything that can be checked (amount, day, policy, and with --execute the mail and
    provider settings) is checked before anything is written.

    Example: [bold]riskdesk payments record contoso.com 1550.25 EUR --reference BANK-881[/bold]
    """
    from riskdesk.book.customers import find_customer
    from riskdesk.book.payments import record_payment
    from riskdesk.collections.run import run_collections

    with _user_errors():
        today = _today()
        day = received_on.date() if received_on else today
        if day > today:
            raise RiskdeskError(
                f"--received-on {day.isoformat()} is later than today ({today.isoformat()}): "
                "record a payment once it has been received"
            )
        money = _payment_money(amount, currency)
        engine = _engine(ctx)
        rules = _load_policy(policy)
        if execute:
            _check_execute_config(ctx)
        with session_scope(engine) as session:
            found = find_customer(session, customer)
            payment = record_payment(
                session,
                customer_id=found.id,
                reference=reference,
                received_on=day,
                amount=money,
                applies_to=tuple(invoice or ()),
                actor="cli",
            )
            customer_id, payment_id = found.id, payment.id
        recorded = (
            f"payment {reference!r} is recorded (payment #{payment_id}, customer #{customer_id})"
        )
        step = "re-evaluating the customer"
        later = "the next `riskdesk collections run` will re-evaluate it and carry out the actions"
        try:
            report = run_collections(engine, rules, as_of=today, customer_ids=[customer_id])
            executed = None
            if execute:
                step = "carrying out the planned actions"
                later = "the next `riskdesk collections run` will carry them out"
                executed = _execute(ctx, engine, quiet=True)
        except RiskdeskError as exc:
            raise RiskdeskError(f"{recorded}, but {step} failed: {exc}; {later}") from None
        except Exception:
            err_console.print(f"{recorded}, but {step} failed; {later}", highlight=False)
            raise
    result = {
        "payment_id": payment_id,
        "customer_id": customer_id,
        "transitions": [
            {"from": d.previous_stage, "to": d.stage, "reason": d.reason}
            for d in report.transitions
        ],
        "actions_planned": report.enqueued,
        "executed": executed,
    }
    if as_json:
        _print_json(result)
        return
    console.print(f"payment {reference} recorded for customer #{customer_id}")
    for move in result["transitions"]:
        console.print(
            f"stage: {move['from'] or 'in good standing'} -> {move['to'] or 'in good standing'}"
        )
    if executed:
        console.print(f"executed: {executed['done']} done, {executed['failed']} failed")


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="pending, awaiting_approval, done, failed ...")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List outbox actions (newest first).

    Example: [bold]riskdesk outbox list --status awaiting_approval[/bold]
    """
    from sqlalchemy import select

    from riskdesk.db.models import OutboxAction

    with _user_errors():
        engine = _engine(ctx)
        with session_scope(engine) as session:
            query = select(OutboxAction).order_by(OutboxAction.id.desc()).limit(limit)
            if status:
                query = query.where(OutboxAction.status == status)
            rows = [
                {
                    "id": a.id,
                    "kind": a.kind,
                    "customer_id": a.customer_id,
                    "subscription_id": a.subscription_id,
                    "status": a.status,
                    "attempts": a.attempts,
                    "stage": a.payload.get("stage"),
                    "last_error": a.last_error,
                    "created_at": a.created_at,
                }
                for a in session.scalars(query)
            ]
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Outbox")
    for column in ("id", "kind", "customer", "subscription", "stage", "status", "attempts"):
        table.add_column(column)
    table.add_column("why (cancelled, held, failed)", overflow="fold", max_width=60)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            str(r["customer_id"]),
            str(r["subscription_id"] or ""),
            r["stage"] or "",
            r["status"],
            str(r["attempts"]),
            (r["last_error"] or "")[:240],
        )
    console.print(table)


@outbox_app.command("approve")
def outbox_approve(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="The action waiting for approval.")],
    by: Annotated[str, typer.Option(help="Who approves (recorded in the audit trail).")],
) -> None:
    """Approve an action that waits for a person (e.g. suspending a large account).

    Example: [bold]riskdesk outbox approve 42 --by "j.doe"[/bold]
    """
    from riskdesk.actions import outbox

    with _user_errors():
        engine = _engine(ctx)
        with session_scope(engine) as session:
            outbox.approve(session, action_id, by)
    console.print(f"action {action_id} approved; the next run carries it out")


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, closed or all.")] = "open",
    customer: Annotated[
        str | None, typer.Option(help="Only this customer (id, tenant id, domain or name).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List cases (oldest first): by default the open ones, e.g. collections reviews.

    Example: [bold]riskdesk cases list --status open[/bold]
    """
    from riskdesk.book.customers import find_customer
    from riskdesk.cases import list_cases
    from riskdesk.db.models import CaseStatus, Customer

    with _user_errors():
        if status not in ("all", *(s.value for s in CaseStatus)):
            raise RiskdeskError(f"--status {status!r}: expected open, closed or all")
        engine = _engine(ctx)
        with session_scope(engine) as session:
            customer_id = find_customer(session, customer).id if customer else None
            cases = list_cases(
                session, status=None if status == "all" else status, customer_id=customer_id
            )
            names = {c.customer_id: session.get(Customer, c.customer_id).name for c in cases}
            rows = [
                {
                    "id": c.id,
                    "customer_id": c.customer_id,
                    "customer": names[c.customer_id],
                    "kind": c.kind,
                    "status": c.status,
                    "title": c.title,
                    "opened_at": c.opened_at,
                    "requests": (c.data or {}).get("requests", 1),
                    "closed_by": c.closed_by,
                    "resolution": c.resolution,
                }
                for c in cases
            ]
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"Cases ({status})")
    for column in ("id", "customer", "kind", "title", "opened", "status", "resolution"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["customer"],
            r["kind"],
            r["title"],
            r["opened_at"].date().isoformat(),
            r["status"],
            r["resolution"] or "",
        )
    console.print(table)


@cases_app.command("close")
def cases_close(
    ctx: typer.Context,
    case_id: Annotated[int, typer.Argument(help="The open case.")],
    by: Annotated[str, typer.Option(help="Who closes it (recorded in the audit trail).")],
    resolution: Annotated[str, typer.Option(help="What was decided.")],
) -> None:
    """Close an open case with what was decided.

    Example: [bold]riskdesk cases close 12 --by j.doe --resolution "payment plan agreed"[/bold]
    """
    from riskdesk.cases import close_case

    with _user_errors():
        engine = _engine(ctx)
        with session_scope(engine) as session:
            close_case(session, case_id, by=by, resolution=resolution)
    console.print(f"case {case_id} closed")
