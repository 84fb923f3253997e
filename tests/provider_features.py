"""Shared set-up for the provider feature tests: a sample sandbox over a real socket, a book
synced from it, and `Deps` whose provider is the Partner Center client on the global or the
21Vianet cloud (the same sandbox: only what the client may call differs)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

from riskdesk.app.bootstrap import bootstrap
from riskdesk.app.clock import FixedClock
from riskdesk.config import Settings
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import sample_state, start_sandbox
from riskdesk.providers.sync import sync_book

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def client(sandbox, cloud: str = "global") -> PartnerCenter:
    return PartnerCenter(
        StaticToken(sandbox.token), base_url=sandbox.base_url, cloud=cloud, backoff_base=0.01
    )  # type: ignore[arg-type]


@contextmanager
def synced_book(engine, database_url, *, cloud: str = "global", faults=None):
    """(deps, state, sandbox): the sample state served, the book synced from it."""
    state = sample_state(seed=3)
    with start_sandbox(state, faults=faults) as sandbox:
        provider = client(sandbox, cloud)
        sync_book(engine, provider)
        deps = bootstrap(
            Settings(database_url=database_url), clock=FixedClock(NOW), provider=provider
        )
        try:
            yield deps, state, sandbox
        finally:
            deps.close()
