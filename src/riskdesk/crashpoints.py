"""Named points where a test may kill the process, to prove what a crash there leaves.

`crashpoint("payment.after_commit")` does nothing unless the environment variable
``RISKDESK_TEST_KILL_AT`` names that point (or lists it, comma-separated): then the process
ends at once with status 137, as if killed by SIGKILL (``os._exit``: no cleanup, no
``finally``, no flush, no rollback). For tests that run a real subprocess; never set it in
production. A point's name says where it is: ``<area>.<step>``.
"""

from __future__ import annotations

import os

ENV = "RISKDESK_TEST_KILL_AT"
KILLED = 137  # what a shell reports for a process killed by SIGKILL (128 + 9)


def crashpoint(name: str) -> None:
    """End the process here, at once, if RISKDESK_TEST_KILL_AT names `name`."""
    wanted = os.environ.get(ENV)
    if wanted and name in (part.strip() for part in wanted.split(",")):
        os._exit(KILLED)
