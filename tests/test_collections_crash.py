"""A collections run killed (SIGKILL, a real process) after planning and before acting.

The killed process commits its plan (outbox rows, stages, audit) and dies without running the
executor or shutting down cleanly. The next run, a separate `riskdesk collections run`, plans
nothing new and carries out every planned action exactly once: each notice reaches the SMTP
server (aiosmtpd) once, each suspension reaches the provider sandbox once. SQLite and
PostgreSQL, on the demo book.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from mail_helpers import SmtpServer
from riskdesk.db.engine import make_engine, session_scope
from riskdesk.db.models import OutboxAction, Subscription
from riskdesk.providers.sandbox.state import SandboxState
from test_cli_collections import STANDARD, _today_is, demo_book, invoke

DAY = "2026-06-15"

PLAN_THEN_DIE = """
import os, signal, sys
from datetime import date
from riskdesk.app.clock import FixedClock
from riskdesk.collections.policy import load_policy
from riskdesk.collections.run import run_collections
from riskdesk.db.engine import make_engine

url, policy, day = sys.argv[1:4]
report = run_collections(
    make_engine(url),
    load_policy(policy),
    as_of=date.fromisoformat(day),
    now=FixedClock.on(day).now(),
)
print(report.enqueued, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no executor, no clean shutdown
"""


def _actions(database_url: str) -> list[OutboxAction]:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            actions = session.scalars(select(OutboxAction).order_by(OutboxAction.id)).all()
            session.expunge_all()
            return list(actions)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_run_killed_after_planning_is_finished_once_by_the_next(
    database_url, tmp_path, monkeypatch
):
    state = demo_book(database_url, tmp_path)
    killed = subprocess.run(
        [sys.executable, "-c", PLAN_THEN_DIE, database_url, str(STANDARD), DAY],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    planned = int(killed.stdout.split()[0])
    actions = _actions(database_url)
    assert planned == len(actions) > 0
    assert {a.status for a in actions} <= {"pending", "awaiting_approval"}  # nothing acted on
    notices = [a for a in actions if a.kind == "notify_email" and a.status == "pending"]
    suspensions = [a for a in actions if a.kind == "suspend_subscription" and a.status == "pending"]
    assert notices and suspensions

    with SmtpServer() as smtp:
        env = {
            "RISKDESK_PROVIDER_SANDBOX_STATE": str(state),
            "RISKDESK_SMTP_HOST": "127.0.0.1",
            "RISKDESK_SMTP_PORT": str(smtp.port),
        }
        _today_is(monkeypatch, DAY)  # the next run acts on the day the killed one planned
        command = ["collections", "run", "--policy", str(STANDARD), "--json"]
        finished = invoke(database_url, *command, env=env)
        assert finished.exit_code == 0, finished.output
        report = json.loads(finished.output)
        assert report["transitions"] == [] and report["actions_planned"] == 0
        assert report["executed"]["failed"] == 0
        again = json.loads(invoke(database_url, *command, env=env).output)
        assert again["executed"]["done"] == 0  # a third run has nothing left to do

        sent = Counter(m["X-Riskdesk-Action"] for m in smtp.inbox.messages)
    assert sent == Counter({a.idempotency_key: 1 for a in notices})  # each notice exactly once

    after = {a.id: a for a in _actions(database_url)}
    assert all(after[a.id].status == "done" for a in notices + suspensions)
    provider = SandboxState.load(state)
    held = {
        s.id
        for subs in provider.subscriptions.values()
        for s in subs.values()
        if str(getattr(s.status, "value", s.status)) == "suspended"
    }
    assert all(after[a.id].result["provider_status"] == "suspended" for a in suspensions)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            wanted = {
                session.get(Subscription, a.subscription_id).provider_subscription_id
                for a in suspensions
            }
    finally:
        engine.dispose()
    assert wanted <= held  # the provider holds every subscription the plan suspended
