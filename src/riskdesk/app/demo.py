"""The demo use case: a synthetic book, a provider sandbox seeded from it, and a first sync."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from riskdesk.app.deps import Deps
from riskdesk.book.facts import AgingRow, CustomerFacts, aging_summary, top_exposures
from riskdesk.db.engine import migrate, session_scope
from riskdesk.db.models import Customer
from riskdesk.errors import ConflictError

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoRequest:
    customers: int = 2000
    seed: int = 7
    as_of: date | None = None
    months: int = 12
    truth: Path = Path("demo-truth.json")
    sandbox_state: Path | None = Path("demo-sandbox.json")  # None: no sandbox, no sync


@dataclass
class DemoResult:
    as_of: date
    summary: Any  # riskdesk.demo.DemoSummary
    aging: list[AgingRow]
    top_exposures: list[CustomerFacts]
    truth: Path
    sync: Any  # riskdesk.providers.sync.SyncReport, or None without a sandbox
    sandbox_state: Path | None


def build_demo(
    deps: Deps, request: DemoRequest, *, actor: str, progress: Progress | None = None
) -> DemoResult:
    """Fill an empty book with the demo (refused if it has customers), then sync it from a
    sandbox seeded with the same book, over HTTP."""
    from riskdesk.demo import build_demo_book

    engine = deps.engine(require_schema=False)
    migrate(engine)
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(Customer)):
            raise ConflictError("the book already has customers; the demo needs an empty database")
    day = request.as_of or deps.today()
    summary = build_demo_book(
        engine,
        customers=request.customers,
        seed=request.seed,
        as_of=day,
        months=request.months,
        truth_path=request.truth,
        progress=progress,
    )
    sync = None
    if request.sandbox_state is not None:
        sync = _seed_and_sync(deps, request.sandbox_state, request.truth, actor, progress)
    with engine.connect() as connection:
        rows = aging_summary(connection, day)
        # Amounts in different currencies cannot be ranked together: the largest few in each
        # of the three currencies with the most customers owing.
        biggest = sorted(rows, key=lambda row: -row.customers)[:3]
        exposures = [
            facts
            for row in biggest
            for facts in top_exposures(connection, day, limit=4, currency=row.currency)
        ]
    return DemoResult(day, summary, rows, exposures, request.truth, sync, request.sandbox_state)


def _seed_and_sync(
    deps: Deps, state_file: Path, truth: Path, actor: str, progress: Progress | None
) -> Any:
    from riskdesk.demo.sandbox_seed import seed_sandbox_state
    from riskdesk.providers.sandbox import start_sandbox
    from riskdesk.providers.settings import ProviderSettings, build_provider
    from riskdesk.providers.sync import mark_invoices_synced, sync_book

    engine = deps.engine()
    state = seed_sandbox_state(engine, truth_path=truth, path=state_file)
    state.save()
    # The book is where the sandbox's billed usage came from: read only what is unbilled.
    mark_invoices_synced(engine, state.invoices())
    settings = ProviderSettings(kind="sandbox")
    with start_sandbox(state, token=settings.sandbox_token.get_secret_value()) as sandbox:
        provider = build_provider(settings.model_copy(update={"base_url": sandbox.base_url}))
        return sync_book(engine, provider, progress=progress, actor=actor)
