"""`payments record` killed (a real process, os._exit at a named crash point) after the payment
committed and before its customer was judged again: the next command that touches collections
(here another customer's payment) judges that customer first, exactly once, so a customer in
good standing does not keep a suspended subscription until some later run (issue 13 item 4).
SQLite and PostgreSQL, on the demo book."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from riskdesk.crashpoints import KILLED
from riskdesk.db.engine import make_engine, session_scope
from riskdesk.db.models import (
    AuditEvent,
    CollectionState,
    Customer,
    OutboxAction,
    Payment,
    PendingReevaluation,
    Subscription,
    SubscriptionSuspension,
)
from test_cli_collections import STANDARD, _today_is, demo_book, invoke

DAY = "2026-06-15"

CLI = """
import sys
from riskdesk.app.clock import FixedClock
from riskdesk.cli import app
from riskdesk.cli._common import Overrides

app(sys.argv[2:], obj=Overrides(clock=FixedClock.on(sys.argv[1])), prog_name="riskdesk")
"""


def _state(database_url: str, customer_id: int) -> dict:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            state = session.get(CollectionState, customer_id)
            reactivations = session.scalars(
                select(OutboxAction).where(
                    OutboxAction.customer_id == customer_id,
                    OutboxAction.kind == "reactivate_subscription",
                )
            ).all()
            return {
                "stage": state.stage if state else None,
                "payments": session.scalar(
                    select(func.count()).where(Payment.customer_id == customer_id)
                ),
                "owed": session.scalar(select(func.count()).select_from(PendingReevaluation)),
                "reactivations": Counter((a.subscription_id, a.status) for a in reactivations),
                "reinstated": session.scalar(
                    select(func.count()).where(
                        AuditEvent.action == "collections.stage_changed",
                        AuditEvent.subject_id == str(customer_id),
                        AuditEvent.data["from"].as_string() == "suspended",
                    )
                ),
            }
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_payment_killed_after_commit_is_judged_by_the_next_command_once(
    database_url, tmp_path, monkeypatch
):
    sandbox = demo_book(database_url, tmp_path)
    _today_is(monkeypatch, DAY)
    env = {
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(sandbox),
        "RISKDESK_MAIL_DIR": str(tmp_path / "m"),
    }
    run = ["collections", "run", "--policy", str(STANDARD), "--json"]
    assert invoke(database_url, *run, env=env).exit_code == 0

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        suspended = session.scalars(
            select(CollectionState.customer_id)
            .where(CollectionState.stage == "suspended")
            .order_by(CollectionState.customer_id)
        ).first()
        other = session.scalars(
            select(Customer).where(Customer.id != suspended).order_by(Customer.id)
        ).first()
        other_id, other_currency = other.id, other.currency
        held = session.scalars(
            select(SubscriptionSuspension.subscription_id)
            .join(Subscription, Subscription.id == SubscriptionSuspension.subscription_id)
            .where(
                Subscription.customer_id == suspended,
                SubscriptionSuspension.reason == "non_payment",
            )
        ).all()
    engine.dispose()
    assert suspended is not None and held
    shown = json.loads(invoke(database_url, "customers", "show", str(suspended), "--json").output)
    owed = shown["facts"]["open_balance"]

    killed = subprocess.run(
        [sys.executable, "-c", CLI, DAY, "--database-url", database_url, "payments", "record",
         str(suspended), owed["amount"], owed["currency"], "--reference", "BANK-1",
         "--policy", str(STANDARD), "--json"],
        env={**os.environ, **env, "RISKDESK_TEST_KILL_AT": "payment.after_commit",
             "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True, text=True, timeout=180, cwd=Path(tmp_path),
    )  # fmt: skip
    assert killed.returncode == KILLED, killed.stderr
    left = _state(database_url, suspended)
    assert (left["payments"], left["stage"], left["owed"]) == (1, "suspended", 1)
    assert left["reactivations"] == Counter()  # nothing judged yet: the process died first

    # The next command that touches collections: another customer's payment.
    paid = invoke(
        database_url, "payments", "record", str(other_id), "1.00", other_currency,
        "--reference", "BANK-2", "--policy", str(STANDARD), "--json", env=env,
    )  # fmt: skip
    assert paid.exit_code == 0, paid.output
    after = _state(database_url, suspended)
    assert after["stage"] is None and after["owed"] == 0
    assert after["reinstated"] == 1
    assert after["reactivations"] == Counter({(s, "done"): 1 for s in held})
    subs = json.loads(invoke(database_url, "customers", "show", str(suspended), "--json").output)
    assert all("non_payment" not in s["suspension_reasons"] for s in subs["subscriptions"])

    # A later run has nothing left to do for that customer: judged exactly once.
    again = json.loads(invoke(database_url, *run, env=env).output)
    assert all(t["customer_id"] != suspended for t in again["transitions"])
    assert _state(database_url, suspended) == after
