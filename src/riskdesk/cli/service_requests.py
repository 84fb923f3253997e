"""`service-requests open | record | update | list | show | at-provider | topics`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from riskdesk.app import service_requests as uc
from riskdesk.app.service_requests import (
    ManualTicket,
    ManualTicketNeeded,
    ServiceRequestAsk,
    ServiceRequestStatus,
)
from riskdesk.cli._common import (
    JsonFlag,
    actor_of,
    console,
    deps_of,
    error_line,
    id_in_range,
    print_json,
    user_errors,
)
from riskdesk.errors import EXIT_CODES, RiskdeskError

requests_app = typer.Typer(
    no_args_is_help=True,
    help="Service requests to the provider about a customer (on 21Vianet: filed by hand).",
)


class Severity(StrEnum):
    MINIMAL = "minimal"
    MODERATE = "moderate"
    CRITICAL = "critical"


Status = StrEnum("Status", {s.name: s.value for s in ServiceRequestStatus})  # type: ignore[misc]
StatusFilter = StrEnum(  # type: ignore[misc]
    "StatusFilter", {**{s.name: s.value for s in ServiceRequestStatus}, "ALL": "all"}
)
CustomerArgument = Annotated[
    str, typer.Argument(help="Internal id, provider tenant id, domain or exact name.")
]
TitleOption = Annotated[str, typer.Option(help="What the request is about (one line).")]
EvidenceOption = Annotated[
    str | None, typer.Option(help="The evidence: what was seen, where, since when.")
]
EvidenceFile = Annotated[
    Path | None, typer.Option(help="Read the evidence from this UTF-8 text file instead.")
]
SeverityOption = Annotated[Severity, typer.Option(help="How urgent.")]
CaseOption = Annotated[
    int | None, typer.Option(help="The riskdesk case it belongs to.", callback=id_in_range)
]
ByOption = Annotated[str | None, typer.Option(help="Who acts (for the audit trail).")]


def register(app: typer.Typer) -> None:
    app.add_typer(requests_app, name="service-requests")


def _manual_hint(exc: RiskdeskError) -> str | None:
    if isinstance(exc, ManualTicketNeeded):
        return (
            "once filed, record it: riskdesk service-requests record CUSTOMER --reference REF "
            '--title "..." --evidence "..."'
        )
    return None


def _evidence(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        error_line("give the evidence as --evidence TEXT or --evidence-file FILE (one of them)")
        raise typer.Exit(EXIT_CODES["invalid"])
    if file is None:
        return text or ""
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        error_line(f"--evidence-file {file}: cannot read it: {exc}")
        raise typer.Exit(EXIT_CODES["invalid"]) from None


def _print_one(view: uc.ServiceRequestView) -> None:
    how = "filed by hand" if view.manual else "opened through the API"
    console.print(
        f"service request {view.reference} ({view.cloud}, {how}) for {view.customer}: {view.status}"
    )
    console.print(f"title: {view.title}")
    console.print(
        f"severity: {view.severity}; opened {view.opened_at:%Y-%m-%d %H:%M} by {view.opened_by}"
    )
    for entry in view.timeline:
        note = f": {entry['note']}" if entry.get("note") else ""
        console.print(f"  {entry['at'][:16]}  {entry['status']:<16} {entry['by']}{note}")


@requests_app.command("open")
def requests_open(
    ctx: typer.Context,
    customer: CustomerArgument,
    title: TitleOption,
    evidence: EvidenceOption = None,
    evidence_file: EvidenceFile = None,
    severity: SeverityOption = Severity.CRITICAL,
    topic: Annotated[
        str | None, typer.Option(help="Support topic id or name (default: the fraud topic).")
    ] = None,
    case: CaseOption = None,
    by: ByOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a service request with the provider about a customer (not on 21Vianet: there
    the documentation lists no service-request API; file it by hand and `record` it).

    Example: [bold]riskdesk service-requests open contoso --title "Crypto mining"
    --evidence "GPU VMs 24h a day since 5 June"[/bold]
    """
    text = _evidence(evidence, evidence_file)
    actor = actor_of(ctx, by)
    ask = ServiceRequestAsk(customer, title, text, severity.value, topic, case)
    with user_errors(_manual_hint):
        view = uc.open_service_request(deps_of(ctx), ask, actor=actor)
    if as_json:
        print_json(view)
        return
    _print_one(view)


@requests_app.command("record")
def requests_record(
    ctx: typer.Context,
    customer: CustomerArgument,
    reference: Annotated[str, typer.Option(help="The reference the provider's support gave.")],
    title: TitleOption,
    evidence: EvidenceOption = None,
    evidence_file: EvidenceFile = None,
    severity: SeverityOption = Severity.CRITICAL,
    case: CaseOption = None,
    by: ByOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a ticket a person filed with the provider by hand (e.g. with 21Vianet support).

    Example: [bold]riskdesk service-requests record contoso --reference CN-2026-000417
    --title "Crypto mining" --evidence "GPU VMs since 5 June"[/bold]
    """
    text = _evidence(evidence, evidence_file)
    actor = actor_of(ctx, by)
    ticket = ManualTicket(customer, reference, title, text, severity.value, case)
    with user_errors():
        view = uc.record_manual_ticket(deps_of(ctx), ticket, actor=actor)
    if as_json:
        print_json(view)
        return
    _print_one(view)


@requests_app.command("update")
def requests_update(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The provider's reference.")],
    status: Annotated[
        Status | None,
        typer.Option(help="New status (hand-filed tickets only; closed is final)."),
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note for the timeline.")] = None,
    by: ByOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Move a hand-filed ticket through its lifecycle, or add a note to any request.

    Example: [bold]riskdesk service-requests update CN-2026-000417 --status closed
    --note "disabled by 21Vianet"[/bold]
    """
    actor = actor_of(ctx, by)
    wanted = ServiceRequestStatus(status.value) if status is not None else None
    with user_errors():
        view = uc.update_ticket(deps_of(ctx), reference, actor=actor, status=wanted, note=note)
    if as_json:
        print_json(view)
        return
    _print_one(view)


@requests_app.command("list")
def requests_list(
    ctx: typer.Context,
    customer: Annotated[
        str | None, typer.Option(help="Only this customer (id, tenant id, domain or name).")
    ] = None,
    status: Annotated[StatusFilter, typer.Option(help="Which requests.")] = StatusFilter.ALL,  # type: ignore[attr-defined]
    as_json: JsonFlag = False,
) -> None:
    """List the service requests the book keeps, oldest first.

    Example: [bold]riskdesk service-requests list --status open[/bold]
    """
    wanted = None if status.value == "all" else ServiceRequestStatus(status.value)
    with user_errors():
        rows = uc.list_service_requests(deps_of(ctx), customer=customer, status=wanted)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Service requests ({status.value})")
    for column in ("reference", "customer", "title", "status", "how", "opened", "by"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.reference, r.customer, r.title, r.status, "by hand" if r.manual else "API",
            r.opened_at.date().isoformat(), r.opened_by,
        )  # fmt: skip
    console.print(table)


@requests_app.command("show")
def requests_show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The provider's reference.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one service request with its timeline.

    Example: [bold]riskdesk service-requests show 616000000000002[/bold]
    """
    with user_errors():
        view = uc.show_service_request(deps_of(ctx), reference)
    if as_json:
        print_json(view)
        return
    _print_one(view)


@requests_app.command("at-provider")
def requests_at_provider(
    ctx: typer.Context, customer: CustomerArgument, as_json: JsonFlag = False
) -> None:
    """List the customer's service requests as the provider has them now.

    Example: [bold]riskdesk service-requests at-provider contoso.onmicrosoft.com[/bold]
    """
    with user_errors(_manual_hint):
        rows = uc.customer_requests_at_provider(deps_of(ctx), customer)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Service requests at the provider")
    for column in ("reference", "title", "status", "severity", "created", "in the book"):
        table.add_column(column)
    for r in rows:
        created = r.created.date().isoformat() if r.created else ""
        table.add_row(
            r.reference, r.title, r.status or "", r.severity, created, "yes" if r.in_book else ""
        )
    console.print(table)


@requests_app.command("topics")
def requests_topics(
    ctx: typer.Context,
    refresh: Annotated[bool, typer.Option(help="Read them from the provider first.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the provider's support topics (cached by sync).

    Example: [bold]riskdesk service-requests topics --refresh[/bold]
    """
    with user_errors(_manual_hint):
        rows = uc.support_topics(deps_of(ctx), refresh=refresh)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Support topics")
    for column in ("id", "name", "description"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.topic_id, r.name or "", r.description or "")
    console.print(table)
