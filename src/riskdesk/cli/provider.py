"""`sync` and `sandbox`: the provider."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from riskdesk.app import provider as uc
from riskdesk.cli._common import (
    JsonFlag,
    actor_of,
    console,
    deps_of,
    print_json,
    progress_bar,
    stage_reporter,
    user_errors,
)


def register(app: typer.Typer) -> None:
    app.command()(sync)
    app.command()(sandbox)


def print_sync(report) -> None:
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
    table.add_row("usage budgets", f"{report.budgets_read:,}", "", f"{report.budgets_changed:,}")
    table.add_row(
        "service requests followed",
        f"{report.service_requests_followed:,}",
        "",
        f"{report.service_requests_changed:,}",
    )
    table.add_row("support topics", f"{report.support_topics:,}", "", "")
    console.print(table)
    for feature in report.not_offered:
        what = feature.replace("_", " ")
        console.print(f"not read: {what} (this cloud's documentation lists no such API)")
    if not report.differences:
        console.print("no differences between the book and the provider")
        return
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


def sync(
    ctx: typer.Context,
    adopt_provider_status: Annotated[
        bool,
        typer.Option(help="Take the provider's subscription status into the book (audited)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Pull customers, subscriptions, usage and fraud events from the provider into the book,
    with customers' usage budgets, the status of open service requests and the support topics.

    Differences (a subscription suspended at the provider but active in the book, ...) are
    reported and audited, never silently overwritten. Safe to repeat: nothing is doubled.

    Example: [bold]riskdesk --config riskdesk.toml sync --json[/bold]
    (after `make demo`: RISKDESK_PROVIDER_SANDBOX_STATE=demo-sandbox.json riskdesk sync)
    """
    with user_errors(), progress_bar(as_json) as progress:
        report = uc.sync(
            deps_of(ctx),
            actor=actor_of(ctx),
            adopt_provider_status=adopt_provider_status,
            progress=stage_reporter(progress),
        )
    if as_json:
        print_json(report)
        return
    print_sync(report)


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
    drop_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of state changes whose connection is closed before the reply.",
        ),
    ] = 0.0,
    request_log: Annotated[
        Path | None,
        typer.Option(
            help="Append every request (method, path, request id, status, state changed) "
            "to this file, one JSON line each."
        ),
    ] = None,
    max_retry_after: Annotated[
        int, typer.Option(min=0, help="Largest Retry-After (seconds) of a throttled answer.")
    ] = 1,
) -> None:
    """Serve a local Partner-Center-compatible API until Ctrl-C (for demos and tests).

    Point riskdesk at it with RISKDESK_PROVIDER_KIND=sandbox and
    RISKDESK_PROVIDER_BASE_URL=http://127.0.0.1:PORT.

    Example: [bold]riskdesk sandbox --state demo-sandbox.json --throttle-rate 0.3[/bold]
    """
    request = uc.SandboxRequest(
        port,
        state,
        seed_from_book,
        truth,
        throttle_rate,
        error_rate,
        latency_ms,
        token,
        seed,
        drop_rate=drop_rate,
        request_log=request_log,
        retry_after_max_s=max_retry_after,
    )
    with user_errors():
        uc.serve_sandbox(deps_of(ctx), request)
