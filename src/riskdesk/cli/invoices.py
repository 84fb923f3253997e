"""`invoices dispute | resolve-dispute`: a customer's dispute of an invoice, and its outcome."""

from __future__ import annotations

from typing import Annotated

import typer

from riskdesk.app import disputes as uc
from riskdesk.app.disputes import DisputeOutcome
from riskdesk.cli import _followup
from riskdesk.cli._common import (
    JsonFlag,
    PolicyOption,
    actor_of,
    console,
    deps_of,
    error_line,
    money,
    print_json,
    user_errors,
)
from riskdesk.errors import EXIT_CODES

invoices_app = typer.Typer(no_args_is_help=True, help="Invoices: disputes and their outcome.")

InvoiceArgument = Annotated[str, typer.Argument(help="The invoice number, e.g. INV-7001.")]
ExecuteOption = Annotated[
    bool, typer.Option(help="Carry out what the customer's re-evaluation plans, now.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(invoices_app, name="invoices")


@invoices_app.command("dispute")
def invoices_dispute(
    ctx: typer.Context,
    invoice: InvoiceArgument,
    reason: Annotated[str, typer.Option(help="What the customer disputes.")],
    execute: ExecuteOption = True,
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record that the customer disputes an invoice; it no longer counts as overdue.

    The customer is re-evaluated at once: a customer behind only on this invoice steps down
    (and is reinstated). A paid invoice, or one already disputed, is refused.

    Example: [bold]riskdesk invoices dispute INV-7001 --reason "seats billed twice"[/bold]
    """
    with user_errors(_followup.hint):
        result = uc.open_dispute(
            deps_of(ctx),
            invoice,
            reason=reason,
            actor=actor_of(ctx),
            execute=execute,
            policy=policy,
        )
    change = result.change
    if as_json:
        print_json({**_change(result), **_followup.as_json(result.followed)})
        return
    console.print(
        f"invoice {change.invoice} of {change.customer} (#{change.customer_id}) disputed "
        f"(dispute #{change.dispute_id}, {money(change.open_amount)} open)"
    )
    _followup.show(result.followed)


@invoices_app.command("resolve-dispute")
def invoices_resolve_dispute(
    ctx: typer.Context,
    invoice: InvoiceArgument,
    upheld: Annotated[
        bool,
        typer.Option(
            "--upheld",
            help="The customer is right: what is open is credited.",
            show_default=False,
        ),
    ] = False,
    rejected: Annotated[
        bool,
        typer.Option(
            "--rejected",
            help="The invoice stands and is back in collections (give exactly one of the two).",
            show_default=False,
        ),
    ] = False,
    note: Annotated[str | None, typer.Option(help="What was decided, and why.")] = None,
    execute: ExecuteOption = True,
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Resolve an invoice's open dispute: upheld credits it, rejected puts it back in collections.

    Upheld issues a credit note for what is still open, so the invoice is no longer owed;
    rejected makes it count as overdue again. The customer is re-evaluated at once.

    Example: [bold]riskdesk invoices resolve-dispute INV-7001 --rejected --note "usage ok"[/bold]
    """
    if upheld == rejected:  # both, or neither: which outcome is meant is not said
        error_line(
            "give exactly one of --upheld or --rejected, not both"
            if upheld
            else "give the outcome: --upheld or --rejected"
        )
        raise typer.Exit(EXIT_CODES["invalid"])
    outcome = DisputeOutcome.UPHELD if upheld else DisputeOutcome.REJECTED
    with user_errors(_followup.hint):
        result = uc.resolve_dispute(
            deps_of(ctx),
            invoice,
            outcome=outcome,
            note=note,
            actor=actor_of(ctx),
            execute=execute,
            policy=policy,
        )
    change = result.change
    if as_json:
        print_json({**_change(result), **_followup.as_json(result.followed)})
        return
    what = f"dispute of invoice {change.invoice} ({change.customer}, #{change.customer_id})"
    if outcome is DisputeOutcome.UPHELD:
        credited = (
            f"credit note {change.credit_note} for {money(change.credited)}"
            if change.credit_note
            else "nothing was left open to credit"
        )
        console.print(f"{what} upheld: {credited}")
    else:
        console.print(f"{what} rejected: {money(change.open_amount)} open, back in collections")
    _followup.show(result.followed)


def _change(result: uc.DisputeResult) -> dict:
    c = result.change
    return {
        "dispute_id": c.dispute_id,
        "invoice": c.invoice,
        "customer_id": c.customer_id,
        "outcome": c.outcome,
        "open_amount": c.open_amount,
        "credited": c.credited,
        "credit_note": c.credit_note,
    }
