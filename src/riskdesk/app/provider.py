"""Use cases with the provider: sync the book from it; serve a local sandbox of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from riskdesk.app.deps import Deps
from riskdesk.providers.sync import SyncReport, sync_book

Progress = Callable[[str, int, int], None]


def sync(
    deps: Deps,
    *,
    actor: str,
    adopt_provider_status: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Pull customers, subscriptions, usage and fraud events; differences are reported and
    audited, never silently overwritten (unless `adopt_provider_status`)."""
    engine = deps.engine()
    with deps.open_provider() as provider:
        return sync_book(
            engine,
            provider,
            adopt_provider_status=adopt_provider_status,
            progress=progress,
            actor=actor,
        )


@dataclass(frozen=True)
class SandboxRequest:
    port: int = 8080
    state: Path | None = None
    seed_from_book: bool = False
    truth: Path | None = None
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: int = 0
    token: str = "sandbox-token"  # noqa: S105 - the local sandbox's well-known default
    seed: int | None = None
    drop_rate: float = 0.0
    request_log: Path | None = None
    retry_after_max_s: int = 1


def serve_sandbox(deps: Deps, request: SandboxRequest) -> None:
    """Serve a Partner-Center-compatible API on the loopback interface until interrupted."""
    from functools import partial

    from riskdesk.demo.sandbox_seed import seed_sandbox_from_database
    from riskdesk.providers.sandbox import serve

    seed_state = (
        partial(seed_sandbox_from_database, deps.settings.database_url, truth_path=request.truth)
        if request.seed_from_book
        else None
    )
    serve(
        request.port,
        request.state,
        request.throttle_rate,
        request.error_rate,
        request.latency_ms,
        request.token,
        seed_state=seed_state,
        seed=request.seed,
        drop_rate=request.drop_rate,
        request_log=request.request_log,
        retry_after_max_s=request.retry_after_max_s,
    )
