"""An executor killed (SIGKILL, a real process) in the middle of an effect is finished exactly
once by the next run at once, not after its lease: the claim names its holder (host, pid,
start time, token) and the next run sees that process is gone (issue 13 item 4). A holder
that still runs keeps its claim. `outbox cancel | retry` take back such an action too, audited
with who and why; wrong states are a conflict (exit 4). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from outbox_fixtures import T0, Clock
from riskdesk.actions.recovery import Holder, holder_gone
from riskdesk.app.clock import FixedClock
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, OutboxAction
from test_webhooks import Receiver, Reply, _enqueue, _executor, customer  # noqa: F401

EXECUTE_ONCE = """
import sys
from datetime import datetime
from riskdesk.actions.executor import Executor
from riskdesk.app.bootstrap import action_registry
from riskdesk.db.engine import make_engine
from riskdesk.notify.mail import SmtpMailer
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter

url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
provider = PartnerCenter(StaticToken("unused"), base_url="http://127.0.0.1:9")
executor = Executor(make_engine(url), provider, SmtpMailer("127.0.0.1", 9, timeout=2),
                    registry=action_registry(), now=lambda: now)
executor.run_once()
"""


def _action(engine, action_id) -> OutboxAction:
    with session_scope(engine) as session:
        action = session.get(OutboxAction, action_id)
        session.expunge(action)
        return action


def _audits(engine, action_id) -> list[AuditEvent]:
    with session_scope(engine) as session:
        events = [
            e
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.data.get("action_id") == action_id
        ]
        session.expunge_all()
        return events


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def _claimed(engine, action_id, claimed_by, *, at=T0, **values) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(OutboxAction)
            .where(OutboxAction.id == action_id)
            .values(
                status="in_progress", attempts=1, claimed_at=at, claimed_by=claimed_by, **values
            )
        )


def test_an_executor_killed_mid_effect_is_finished_once_by_the_next_run_at_once(
    database_url,
    engine,
    customer,  # noqa: F811
):
    # The first POST never gets an answer (the receiver sits on it); later ones get 200.
    with Receiver(Reply(200, delay=30), Reply(200, body=b"ok")) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        first = subprocess.Popen(
            [sys.executable, "-c", EXECUTE_ONCE, database_url, T0.isoformat()],
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not receiver.seen and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert receiver.seen, first.stderr.read() if first.poll() is not None else "no POST"
        first.send_signal(signal.SIGKILL)  # in the middle of the effect
        assert first.wait(10) == -signal.SIGKILL

        left = _action(engine, action_id)
        assert left.status == "in_progress" and left.attempts == 1
        holder = Holder.parse(left.claimed_by)
        assert holder is not None and holder.pid == first.pid
        assert holder_gone(left.claimed_by) == f"{holder.describe()} no longer runs"

        clock = Clock(T0 + timedelta(minutes=1))  # the 5-minute lease has not expired
        report = _executor(engine, clock).run_once()
        assert (report.recovered, report.done) == (1, 1)
        assert _executor(engine, clock).run_once().claimed == 0  # nothing left to do

    done = _action(engine, action_id)
    assert (done.status, done.attempts, done.result) == ("done", 2, {"status": 200})
    keys = [r.headers["idempotency-key"] for r in receiver.seen]
    assert keys == ["k-hook", "k-hook"]  # the repeat carries the same key
    events = [e.action for e in _audits(engine, action_id)]
    assert events == ["action.recovered", "action.done"]  # finished exactly once
    recovered = _audits(engine, action_id)[0].data
    assert recovered["claimed_by"] == left.claimed_by
    assert "no longer runs" in recovered["because"]


def test_a_holder_that_still_runs_keeps_its_claim_until_the_lease_ends(
    engine,
    customer,  # noqa: F811
):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(f"/proc/{sleeper.pid}/stat") as f:
            started = f.read().rsplit(")", 1)[1].split()[19]
        host = Holder.current().host
        alive = Holder(host, sleeper.pid, started, "t0ken").text()
        action_id = _enqueue(engine, customer, "http://127.0.0.1:9/hook")
        _claimed(engine, action_id, alive)
        clock = Clock(T0 + timedelta(minutes=1))
        assert _executor(engine, clock).run_once().recovered == 0
        assert _action(engine, action_id).status == "in_progress"
        # The same pid with another start time is another process: the holder is gone.
        _claimed(engine, action_id, Holder(host, sleeper.pid, "1", "t0ken").text())
        assert "another process now" in holder_gone(_action(engine, action_id).claimed_by)
        # On another host nothing can be checked: the lease decides.
        _claimed(engine, action_id, Holder("elsewhere", _dead_pid(), "1", "x").text())
        assert _executor(engine, clock).run_once().recovered == 0
        clock.advance(minutes=5)
        assert _executor(engine, clock).run_once().recovered == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_email_whose_sending_started_is_held_for_a_person_when_its_holder_died(
    engine,
    customer,  # noqa: F811
):
    from outbox_fixtures import REMINDER  # a notice payload
    from riskdesk.actions import outbox

    with session_scope(engine) as session:
        action_id = outbox.enqueue(
            session, key="k-mail", kind="notify_email", customer_id=customer,
            payload=REMINDER, now=T0,
        ).id  # fmt: skip
    dead = Holder(Holder.current().host, _dead_pid(), "1", "x").text()
    _claimed(engine, action_id, dead, effect_started_at=T0)
    report = _executor(engine, Clock(T0 + timedelta(seconds=30))).run_once()
    assert (report.recovered, report.held, report.claimed) == (0, 1, 0)
    action = _action(engine, action_id)
    assert action.status == "awaiting_approval" and "delivery uncertain" in action.last_error


runner = CliRunner()


def _cli(database_url, *args):
    return runner.invoke(
        app,
        ["--database-url", database_url, *args],
        env={"COLUMNS": "200"},
        obj=Overrides(clock=FixedClock(T0 + timedelta(minutes=1))),
    )


def test_outbox_cancel_and_retry_take_back_an_abandoned_action_and_refuse_wrong_states(
    database_url,
    engine,
    customer,  # noqa: F811
):
    gone, kept, failed = (
        _enqueue(engine, customer, "http://127.0.0.1:9/hook", key=f"k-{n}")
        for n in ("gone", "kept", "failed")
    )
    host = Holder.current().host
    _claimed(engine, gone, Holder(host, _dead_pid(), "1", "x").text())
    _claimed(engine, kept, Holder.current().text())  # this very process: alive
    with session_scope(engine) as session:
        session.execute(
            update(OutboxAction)
            .where(OutboxAction.id == failed)
            .values(status="failed", attempts=8, last_error="PermanentWebhookError: 410")
        )

    listed = json.loads(_cli(database_url, "outbox", "list", "--json").output)
    why = {r["id"]: r["why"] for r in listed}
    assert "no longer runs: the next run takes it up at once" in why[gone]

    for command in ("cancel", "retry"):  # an executor that runs holds it: a conflict
        busy = _cli(database_url, "outbox", command, str(kept), "--by", "j.doe", "--reason", "x")
        assert busy.exit_code == 4, busy.output
        assert f"action {kept} is in_progress: an executor (pid {os.getpid()}" in busy.output
    assert _action(engine, kept).status == "in_progress"
    pending = _cli(database_url, "outbox", "retry", str(failed), "--by", "j.doe")
    assert pending.exit_code == 2  # --reason is required

    retried = _cli(
        database_url, "outbox", "retry", str(gone), "--by", "j.doe", "--reason", "receiver fixed"
    )
    assert retried.exit_code == 0, retried.output
    assert _action(engine, gone).status == "pending"
    recovered, again = _audits(engine, gone)
    assert (recovered.action, recovered.actor) == ("action.recovered", "j.doe")
    assert recovered.data["on_request"] == "retry" and "no longer runs" in recovered.data["because"]
    assert (again.action, again.actor, again.data["reason"]) == (
        "action.retried", "j.doe", "receiver fixed",
    )  # fmt: skip
    twice = _cli(database_url, "outbox", "retry", str(gone), "--by", "j.doe", "--reason", "x")
    assert twice.exit_code == 4 and "is pending, not failed" in twice.output

    cancelled = _cli(
        database_url, "outbox", "cancel", str(gone), "--by", "ann", "--reason", "sent by hand"
    )
    assert cancelled.exit_code == 0, cancelled.output
    event = _audits(engine, gone)[-1]
    assert (event.action, event.actor, event.data["reason"]) == (
        "action.cancelled", "ann", "sent by hand",
    )  # fmt: skip
    refused = _cli(database_url, "outbox", "cancel", str(gone), "--by", "ann", "--reason", "x")
    assert refused.exit_code == 4 and "is cancelled" in refused.output

    ok = _cli(database_url, "outbox", "retry", str(failed), "--by", "ann", "--reason", "410 fixed")
    assert ok.exit_code == 0, ok.output
    event = _audits(engine, failed)[-1]
    assert (event.action, event.actor, event.data["reason"]) == (
        "action.retried",
        "ann",
        "410 fixed",
    )
    assert _action(engine, failed).attempts == 0
