"""Benchmark `provider`: a sync of a 2,000-customer book from the sandbox, over a real socket.

The book: the demo's (`build_demo_book`, 2,000*scale customers, two invoiced months and the
current month's unbilled usage), seeded into a sandbox state (`seed_sandbox_state`: its
customers, subscriptions, usage lines under their invoices, fraud events). The sandbox runs
in a background thread on a loopback port; the client is riskdesk's `PartnerCenter` over
httpx, as against Partner Center. Each sync goes into a fresh, empty database of each kind:

- `sync_s`: `sync_book` without faults: every customer page, each customer's subscriptions,
  the fraud events, the invoices, the unbilled usage per currency and the billed usage of
  every invoice, then the one write transaction (customers, subscriptions, fraud events,
  usage through the importer, audit);
- `requests_per_s`: the HTTP requests of that sync over its time;
- `sync_s_vs_limit`: `sync_s` over the plain limit: the same requests (the same URLs and
  headers, continuation tokens included, recorded from the sync) sent again with a bare
  httpx client, each body read and nothing parsed or written; on the same sandbox, right
  after the sync (best of two);
- `sync_faults_s`: the same sync from a sandbox that throttles 30 % of requests (429 with
  `Retry-After: 0`) and answers 10 % with 500/503 (`--throttle-rate 0.3 --error-rate 0.1`,
  seeded), the client's backoff base 10 ms; the book it writes must equal the unfaulted one
  (customers, subscriptions, usage lines, fraud events), else the benchmark raises.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

import limits
from common import fresh_database, note
from riskdesk.db.engine import make_engine, migrate
from riskdesk.db.models import Customer, ProviderFraudEvent, Subscription, UsageRecord
from riskdesk.demo import build_demo_book
from riskdesk.demo.sandbox_seed import seed_sandbox_state
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter
from riskdesk.providers.sandbox import Faults, SandboxState, start_sandbox
from riskdesk.providers.sync import SyncReport, sync_book

AS_OF = date(2026, 6, 15)
CUSTOMERS = 2000
MONTHS = 2
FAULTS = {"throttle_rate": 0.3, "error_rate": 0.1, "retry_after_max_s": 0, "seed": 14}
BACKOFF_BASE = 0.01
Recorded = list[tuple[str, str, dict[str, str]]]


def _state(scale: float, directory: Path) -> SandboxState:
    engine = make_engine(f"sqlite:///{directory / 'source.db'}")
    migrate(engine)
    truth = directory / "truth.json"
    started = time.perf_counter()
    customers = max(10, round(CUSTOMERS * scale))
    build_demo_book(engine, customers=customers, months=MONTHS, as_of=AS_OF, truth_path=truth)
    state = seed_sandbox_state(engine, truth_path=truth)
    engine.dispose()
    note(
        f"bench provider: sandbox state of {len(state.customers)} customers, "
        f"{sum(len(s) for s in state.subscriptions.values())} subscriptions, "
        f"{len(state.usage)} usage lines, {len(state.invoices())} invoices, "
        f"{len(state.fraud_events)} fraud events in {time.perf_counter() - started:.1f} s"
    )
    return state


def _sync(url: str, base_url: str, token: str, record: Recorded) -> tuple[SyncReport, float]:
    """`sync_book` into the database at `url`; every request the client sends (retries
    included) is appended to `record` as (method, URL, headers)."""

    def hook(request: httpx.Request) -> None:
        record.append((request.method, str(request.url), dict(request.headers)))

    engine = make_engine(url)
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [hook]}
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), event_hooks=hooks) as http:
        provider = PartnerCenter(
            StaticToken(token), base_url=base_url, client=http, backoff_base=BACKOFF_BASE
        )
        try:
            started = time.perf_counter()
            report = sync_book(engine, provider)
            return report, time.perf_counter() - started
        finally:
            engine.dispose()


def _book(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                model.__tablename__: connection.scalar(select(func.count()).select_from(model))
                for model in (Customer, Subscription, UsageRecord, ProviderFraudEvent)
            }
    finally:
        engine.dispose()


def _replay(requests: Recorded) -> Callable[[], None]:
    """The limit: the recorded requests again, through a bare httpx client, bodies read."""

    def send() -> None:
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
            for method, url, headers in requests:
                response = client.request(method, url, headers=headers)
                response.read()
                if response.status_code != 200:
                    raise AssertionError(
                        f"bench provider: {method} {url} -> {response.status_code}"
                    )

    return send


def run(db: str, state: SandboxState) -> Iterator[dict]:
    base = {"bench": "provider", "db": db}
    n = (
        f"{len(state.customers)} customers / "
        f"{sum(len(s) for s in state.subscriptions.values())} subscriptions / "
        f"{len(state.usage)} usage lines"
    )
    with fresh_database(db) as url:
        if url is None:
            return
        with start_sandbox(state) as sandbox:
            recorded: Recorded = []
            report, sync_s = _sync(url, sandbox.base_url, sandbox.token, recorded)
            clean = _book(url)
            methods = {method for method, _url, _headers in recorded}
            if methods != {"GET"}:
                raise AssertionError(f"bench provider: the sync sent {sorted(methods)}")
            replay = _replay(recorded)  # the sync itself warmed the sandbox up
            limit_s = min(_seconds(replay) for _ in range(2))
        note(
            f"bench provider: {db}: sync {sync_s:.2f} s, {len(recorded)} requests, "
            f"{report.usage_inserted} usage lines written; bare replay {limit_s:.2f} s; "
            f"book {clean}"
        )
        yield base | {
            "metric": "sync_s",
            "value": round(sync_s, 3),
            "unit": "s",
            "target": 60,
            "better": "lower",
            "n": n,
            "requests": len(recorded),
        }
        yield base | {
            "metric": "requests_per_s",
            "value": round(len(recorded) / sync_s, 1),
            "unit": "requests/s",
            "n": f"{len(recorded)} requests, {n}",
        }
        yield limits.figure("provider", "sync_s", sync_s, limit_s, 5, n, db, requests=len(recorded))
    with fresh_database(db) as url:
        if url is None:
            return
        faults = Faults(**FAULTS)
        with start_sandbox(state, faults=faults) as sandbox:
            attempts: Recorded = []
            _report, faults_s = _sync(url, sandbox.base_url, sandbox.token, attempts)
        faulted = _book(url)
        if faulted != clean:
            raise AssertionError(
                f"bench provider: the faulted sync wrote {faulted}, the clean one {clean}"
            )
        note(
            f"bench provider: {db}: sync with faults {faults_s:.2f} s, {len(attempts)} "
            f"attempts for {len(recorded)} requests; the same book"
        )
        yield base | {
            "metric": "sync_faults_s",
            "value": round(faults_s, 3),
            "unit": "s",
            "target": 120,
            "better": "lower",
            "n": f"{n}; throttle 0.3 (Retry-After 0), errors 0.1, backoff base 10 ms",
            "attempts": len(attempts),
            "requests": len(recorded),
        }


def _seconds(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(scale: float, dbs: list[str]) -> Iterator[dict]:
    """Each figure as soon as it is measured."""
    with tempfile.TemporaryDirectory(prefix="riskdesk-bench-provider-") as directory:
        state = _state(scale, Path(directory))
        for db in dbs:
            note(f"bench provider: {db} at scale {scale}")
            yield from run(db, state)
