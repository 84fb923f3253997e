"""`payments record`: a payment received, and its customer re-evaluated at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from riskdesk.app import payments as uc
from riskdesk.cli._common import (
    JsonFlag,
    PolicyOption,
    actor_of,
    console,
    deps_of,
    print_json,
    user_errors,
)

payments_app = typer.Typer(no_args_is_help=True, help="Payments received from customers.")


def register(app: typer.Typer) -> None:
    app.add_typer(payments_app, name="payments")


@payments_app.command("record")
def payments_record(
    ctx: typer.Context,
    customer: Annotated[
        str, typer.Argument(help="Internal id, provider tenant id, domain or exact name.")
    ],
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
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a payment and re-evaluate that customer at once (reinstating if it now qualifies).

    The customer is re-evaluated as of today, also for a payment received on an earlier day.
    Everything that can be checked (amount, day, policy, and with --execute the mail and
    provider settings) is checked before anything is written.

    Example: [bold]riskdesk payments record contoso.com 1550.25 EUR --reference BANK-881[/bold]
    """
    request = uc.PaymentRequest(
        customer=customer,
        amount=amount,
        currency=currency,
        reference=reference,
        received_on=received_on.date() if received_on else None,
        invoices=tuple(invoice or ()),
        execute=execute,
        policy=policy,
    )
    with user_errors():
        result = uc.record_payment(deps_of(ctx), request, actor=actor_of(ctx))
    transitions = [
        {"from": d.previous_stage, "to": d.stage, "reason": d.reason} for d in result.transitions
    ]
    if as_json:
        print_json(
            {
                "payment_id": result.payment_id,
                "customer_id": result.customer_id,
                "transitions": transitions,
                "actions_planned": result.actions_planned,
                "executed": result.executed,
            }
        )
        return
    console.print(f"payment {reference} recorded for customer #{result.customer_id}")
    for move in transitions:
        console.print(
            f"stage: {move['from'] or 'in good standing'} -> {move['to'] or 'in good standing'}"
        )
    if result.executed:
        console.print(f"executed: {result.executed.done} done, {result.executed.failed} failed")
