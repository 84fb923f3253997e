"""`payments record` / `payments reverse`: a payment received or reversed, and its customer
re-evaluated at once."""

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


@payments_app.command("reverse")
def payments_reverse(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The payment's reference.")],
    reason: Annotated[str, typer.Option(help="Why (e.g. bounced), recorded with it.")],
    by: Annotated[str, typer.Option(help="Who reverses it (recorded in the audit trail).")],
    execute: Annotated[bool, typer.Option(help="Carry out what re-evaluation plans now.")] = True,
    policy: PolicyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Reverse a payment (bounced, recorded by mistake) and re-evaluate its customer at once.

    The payment is kept, marked reversed with who, when and why; what it paid is open again
    and the customer's other payments are applied again. Reversing it twice is refused.

    Example: [bold]riskdesk payments reverse BANK-881 --reason "bounced" --by j.doe[/bold]
    """
    request = uc.ReversalRequest(reference=reference, reason=reason, execute=execute, policy=policy)
    with user_errors():
        result = uc.reverse_payment(deps_of(ctx), request, actor=actor_of(ctx, by))
    done, followup = result.reversal, result.followup
    transitions = [
        {"from": d.previous_stage, "to": d.stage, "reason": d.reason} for d in followup.transitions
    ]
    if as_json:
        print_json(
            {
                "payment_id": done.payment_id,
                "customer_id": done.customer_id,
                "reference": done.reference,
                "amount": done.amount,
                "allocations_removed": [
                    {"invoice": number, "amount": amount} for number, amount in done.removed
                ],
                "allocations_created": done.allocations_created,
                "transitions": transitions,
                "actions_planned": followup.actions_planned,
                "executed": followup.executed,
            }
        )
        return
    console.print(
        f"payment {done.reference} ({done.amount}) reversed for customer #{done.customer_id}"
    )
    for number, amount in done.removed:
        console.print(f"  {number}: {amount} open again")
    for move in transitions:
        console.print(
            f"stage: {move['from'] or 'in good standing'} -> {move['to'] or 'in good standing'}"
        )
    if followup.executed:
        console.print(f"executed: {followup.executed.done} done, {followup.executed.failed} failed")
