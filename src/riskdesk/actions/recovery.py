"""Who holds a claimed outbox action, and taking back those whose holder is provably gone.

An executor that claims an action records itself (`Holder`: host and pid namespace, pid,
process start time, a per-process token) in `claimed_by`. `recover_abandoned` takes back the
actions in progress whose lease expired or whose holder ran on this host and no longer does
(`holder_gone`): the executor calls it before each pass, and a person's `outbox retry` /
`outbox cancel` through it for one action.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, literal_column, select

from riskdesk import audit
from riskdesk.actions.outbox import audit_outcome
from riskdesk.db.engine import session_scope
from riskdesk.db.models import ActionStatus, OutboxAction


def _host() -> str:
    """This host, and the pid namespace (a container's pids are not the host's)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}~{namespace}" if namespace else socket.gethostname()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of `pid` from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


_TOKEN = (0, "")  # (pid, token): a fresh token in a forked child


@dataclass(frozen=True)
class Holder:
    """Who claims an action: enough to tell later whether that process still runs."""

    host: str
    pid: int
    started: str  # /proc/<pid>/stat start time; "" where there is no /proc
    token: str

    @classmethod
    def current(cls) -> Holder:
        global _TOKEN
        pid = os.getpid()
        if _TOKEN[0] != pid:
            _TOKEN = (pid, secrets.token_hex(6))
        stat = _proc_stat(pid)
        return cls(_host(), pid, stat[1] if stat else "", _TOKEN[1])

    def text(self) -> str:
        return f"{self.host}/{self.pid}/{self.started}/{self.token}"

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        parts = (text or "").rsplit("/", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host.split('~')[0]}"


def holder_gone(claimed_by: str | None) -> str | None:
    """Why the process that claimed an action provably no longer holds it, or None when it may
    (it runs; it is on another host; it cannot be checked: then only its lease ends it)."""
    holder = Holder.parse(claimed_by)
    if holder is None or holder.host != _host():
        return None
    me = Holder.current()
    if holder.pid == me.pid:
        return None if holder.token == me.token else f"{holder.describe()} is this process now"
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return f"{holder.describe()} no longer runs"
    except PermissionError:
        pass  # runs, as another user: check that it is the same process
    stat = _proc_stat(holder.pid)
    if stat is None:
        return None
    state, started = stat
    if state in ("Z", "X"):
        return f"{holder.describe()} has exited"
    if holder.started and started != holder.started:
        return f"{holder.describe()} is another process now (started at another time)"
    return None


def recover_abandoned(
    engine: Engine,
    *,
    now: datetime,
    lease: timedelta,
    actor: str,
    max_attempts: int = 8,
    on_uncertain_email: Literal["hold", "resend"] = "hold",
    only: Iterable[int] | None = None,
    audit_data: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Take back the actions in progress whose owner is provably gone: (recovered, held).

    Gone: the lease has expired, or the holder ran on this host and no longer does
    (`holder_gone`). Such an action goes back to ``pending`` (due now), or ``failed`` when its
    attempts are spent; an e-mail whose sending had started goes to ``awaiting_approval``
    (delivery uncertain) unless `on_uncertain_email` is "resend". `only` limits it to some
    actions (a person retrying or cancelling one); `audit_data` is added to each audit event.
    """
    cutoff = now - lease
    with session_scope(engine) as session:
        query = select(OutboxAction.id, OutboxAction.claimed_at, OutboxAction.claimed_by).where(
            # Literal, not a bound parameter: SQLite uses the partial index
            # ix_outbox_actions_claimed only for a WHERE term that matches its own.
            OutboxAction.status == literal_column(f"'{ActionStatus.IN_PROGRESS.value}'"),
        )
        if only is not None:
            query = query.where(OutboxAction.id.in_(list(only)))
        judged: dict[int, tuple[datetime | None, str | None, str]] = {}
        for action_id, claimed_at, claimed_by in session.execute(query):
            if claimed_at is not None and claimed_at <= cutoff:
                why = "its lease expired"
            else:
                gone = holder_gone(claimed_by)
                why = f"its executor stopped ({gone})" if gone else ""
            if why:
                judged[action_id] = (claimed_at, claimed_by, why)
    if not judged:
        return 0, 0
    recovered = held = 0
    extra = audit_data or {}
    with session_scope(engine) as session:
        audit.lock_chain(session)  # see audit.lock_chain
        rows = select(OutboxAction).where(
            OutboxAction.id.in_(list(judged)),
            OutboxAction.status == ActionStatus.IN_PROGRESS.value,
        )
        if session.get_bind().dialect.name == "postgresql":
            rows = rows.with_for_update(skip_locked=True)
        for action in session.scalars(rows.execution_options(populate_existing=True)):
            claimed_at, claimed_by, why = judged[action.id]
            if (action.claimed_at, action.claimed_by) != (claimed_at, claimed_by):
                continue  # claimed again since it was judged: the new claim is alive
            action.updated_at = now
            holder = {"claimed_at": action.claimed_at, "claimed_by": claimed_by, "because": why}
            # Only an effect that cannot be repeated (e-mail) marks its start.
            uncertain = action.effect_started_at is not None
            if uncertain and on_uncertain_email == "hold":
                action.status = ActionStatus.AWAITING_APPROVAL.value
                action.last_error = (
                    "delivery uncertain: the executor stopped while handing the message to "
                    "the mail server; check the mail log for its Message-ID, then approve "
                    "to resend it (same Message-ID) or cancel it if it was delivered"
                )
                audit_outcome(session, action, actor, "uncertain", **holder, **extra)
                held += 1
                continue
            if action.attempts >= max_attempts:
                action.status = ActionStatus.FAILED.value
                action.last_error = (
                    f"gave up after {action.attempts} attempts (executor stopped during the "
                    "last one)"
                )
                audit_outcome(
                    session, action, actor, "failed", error=action.last_error, **holder, **extra
                )
            else:
                action.status = ActionStatus.PENDING.value
                action.next_attempt_at = now
                action.last_error = (
                    f"recovered: {why} before recording a result"
                    if why.startswith("its executor")
                    else f"recovered: the executor stopped before recording a result ({why})"
                )
                audit_outcome(
                    session,
                    action,
                    actor,
                    "recovered",
                    uncertain_email=uncertain,
                    **holder,
                    **extra,
                )
            recovered += 1
    return recovered, held
