"""Named points where a test may kill the process, to prove what a crash there leaves.

`crashpoint("payment.after_commit")` does nothing unless the environment variable
``RISKDESK_TEST_KILL_AT`` names that point (or lists it, comma-separated): then the process
ends at once with status 137, as if killed by SIGKILL (``os._exit``: no cleanup, no
``finally``, no flush, no rollback). For tests that run a real subprocess; never set it in
production. A point's name says where it is: ``<area>.<step>``. A point reached for several
things may name the one it is at (`crashpoint("executor.after_claim", action.kind)`): then
``<area>.<step>:<detail>`` (``executor.after_claim:suspend_subscription``) ends the process
only there, and the bare name at the first one reached.
"""

from __future__ import annotations

import os

ENV = "RISKDESK_TEST_KILL_AT"
KILLED = 137  # what a shell reports for a process killed by SIGKILL (128 + 9)


def crashpoint(name: str, detail: str | None = None) -> None:
    """End the process here, at once, if RISKDESK_TEST_KILL_AT names `name` (or
    `name:detail`)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    names = {part.strip() for part in wanted.split(",")}
    if name in names or (detail is not None and f"{name}:{detail}" in names):
        os._exit(KILLED)
