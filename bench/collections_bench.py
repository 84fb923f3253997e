"""Benchmark `collections`: a whole-book collections run, against a per-customer loop.

(The file is not `bench/collections.py`: with `bench/` first on sys.path that would shadow the
standard library's `collections` for every import; `bench/run.py` maps the name.)

Per database, on the demo's book at the benchmark's size (`book_facts.build`: 100,000*scale
customers, about 1,000,000*scale invoices, their subscriptions and planted payer behaviours):

- `reference_loop_s`: `collections_reference.decide_each` (five ORM queries per customer, facts
  in Python, `decide`) over every customer of the book;
- `set_based_decide_s`: `evaluate()` over the whole book (facts query + `decide_many`);
- `speedup`: the ratio of the two. Both must give every customer the same stage (and days past
  due and overdue amount); a disagreement is printed to stderr and raises;
- `full_run_s`: the first `run_collections` over the whole book, which plans and enqueues
  every transition and writes the states and the audit events; `full_run_s_vs_limit` is it
  over the bare facts pass (the facts statement through the driver, best of three, on the
  same book just before the run);
- `reevaluate_ms`: after `record_payment` of a staged customer's whole open balance,
  `run_collections(customer_ids=[it])`; median over several customers.

as_of is the book's own today (`book_facts.AS_OF`: the newest invoices not yet due), the day a
daily run would use; with `book_facts.SHARES` about half of the customers are in some stage
then. The policy is the shipped `src/riskdesk/policies/standard.yaml` with `max_suspensions_per_run`
raised so the blast radius does not withhold the first run's suspensions (with 50 it would
withhold nearly every transition and the run would write almost nothing).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import book_facts
import collections_reference
import limits
from common import fresh_database, note
from riskdesk.book.facts import customer_facts
from riskdesk.book.payments import record_payment
from riskdesk.collections.policy import Policy, load_policy
from riskdesk.collections.run import evaluate, run_collections
from riskdesk.db.engine import make_engine
from riskdesk.db.models import AuditEvent, CollectionState, OutboxAction

ROOT = Path(__file__).resolve().parent.parent
AS_OF = book_facts.AS_OF
NOW = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)
REEVALUATE = 7  # customers re-evaluated after a payment


def _policy(directory: Path) -> Policy:
    source = (ROOT / "src" / "riskdesk" / "policies" / "standard.yaml").read_text()
    lines = [
        "max_suspensions_per_run: 1000000" if ln.startswith("max_suspensions_per_run:") else ln
        for ln in source.splitlines()
    ]
    path = directory / "standard-bench.yaml"
    path.write_text("\n".join(lines) + "\n")
    return load_policy(path)


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _compare(reference: dict, decisions: dict) -> None:
    """Raise if the two implementations disagree on any customer (or on who the customers are)."""
    if set(reference) != set(decisions):
        raise AssertionError(
            f"the reference decided {len(reference)} customers, evaluate() {len(decisions)}"
        )
    bad = []
    for cid, ref in reference.items():
        got = decisions.get(cid)
        same = got is not None and (
            ref.stage,
            ref.facts["days_past_due"],
            ref.facts["overdue_amount"],
        ) == (got.stage, got.facts["days_past_due"], got.facts["overdue_amount"])
        if not same:
            bad.append((cid, ref, got))
    for cid, ref, got in bad[:20]:
        print(
            f"bench collections: customer {cid}: reference {ref.stage!r} "
            f"{dict(ref.facts)!r}\n  set-based {getattr(got, 'stage', None)!r} "
            f"{dict(getattr(got, 'facts', {}))!r}",
            file=sys.stderr,
        )
    if bad:
        raise AssertionError(
            f"reference and set-based decisions differ for {len(bad)} of {len(reference)} "
            "customers (first ones on stderr)"
        )


def run(scale: float, db: str, url: str, policy: Policy) -> Iterator[dict]:
    started = time.perf_counter()
    counts = book_facts.build(url, scale)
    note(f"bench collections: built {counts} in {time.perf_counter() - started:.1f} s")
    n = book_facts.sizes(counts)
    n_customers = counts["customers"]
    base = {"bench": "collections", "db": db}
    engine = make_engine(url)
    try:
        # The limit of the first run: the bare facts pass (the statement through the driver).
        bare = limits.bare_facts(engine, AS_OF)
        try:
            bare()
            facts_s = min(_seconds(bare) for _ in range(3))
        finally:
            bare.close()
        note(f"bench collections: bare facts statement {facts_s:.3f} s")
        # The reference loop over every customer of the book.
        every = list(range(1, n_customers + 1))
        with Session(engine) as session:
            collections_reference.customer_row(session, every[0], AS_OF)  # warm-up
            started = time.perf_counter()
            reference = collections_reference.decide_each(session, policy, every, AS_OF)
            reference_s = time.perf_counter() - started
        note(
            f"bench collections: reference loop over {n_customers} customers in "
            f"{reference_s:.1f} s ({1000 * reference_s / n_customers:.2f} ms each)"
        )

        # The set-based decision over the whole book: a warm-up, then timed.
        with engine.connect() as conn:
            evaluate(conn, policy, AS_OF)
            started = time.perf_counter()
            decisions = evaluate(conn, policy, AS_OF)
            set_s = time.perf_counter() - started
        staged = sum(d.stage is not None for d in decisions)
        note(
            f"bench collections: evaluate() {len(decisions)} customers in {set_s:.2f} s, "
            f"{staged} in a stage ({100 * staged / max(1, len(decisions)):.0f} %)"
        )
        _compare(reference, {d.customer_id: d for d in decisions})
        note(f"bench collections: both agree on all {len(reference)} customers")
        yield base | {
            "metric": "reference_loop_s",
            "value": round(reference_s, 3),
            "unit": "s",
            "n": n,
        }
        yield base | {
            "metric": "set_based_decide_s",
            "value": round(set_s, 3),
            "unit": "s",
            "n": n,
        }
        yield base | {
            "metric": "speedup",
            "value": round(reference_s / set_s, 1),
            "unit": "x",
            "target": 20,
            "better": "higher",
            "n": n,
        }

        # The first run: every transition planned, enqueued and recorded.
        started = time.perf_counter()
        report = run_collections(engine, policy, as_of=AS_OF, now=NOW)
        full_s = time.perf_counter() - started
        with engine.connect() as conn:
            states = conn.scalar(select(func.count()).select_from(CollectionState))
            outbox = conn.scalar(select(func.count()).select_from(OutboxAction))
            events = conn.scalar(select(func.count()).select_from(AuditEvent))
        note(
            f"bench collections: first run {full_s:.2f} s: {report.customers} customers, "
            f"{len(report.transitions)} transitions, {report.enqueued} outbox rows "
            f"({outbox} in table), {states} states, {events} audit events, "
            f"alert {report.alert!r}"
        )
        yield base | {
            "metric": "full_run_s",
            "value": round(full_s, 3),
            "unit": "s",
            "target": 10,
            "better": "lower",
            "n": n,
        }
        yield limits.figure("collections", "full_run_s", full_s, facts_s, 20, n, db)

        # One customer's re-evaluation after it pays everything it owes.
        staged_ids = [d.customer_id for d in report.transitions if d.stage is not None]
        rng = np.random.default_rng(3)
        chosen = sorted(rng.choice(staged_ids, min(REEVALUATE, len(staged_ids)), replace=False))
        times = []
        left = 0
        for k, cid in enumerate(int(c) for c in chosen):
            with Session(engine) as session, session.begin():
                owed = customer_facts(session, AS_OF, [cid])[0].open_balance
                record_payment(
                    session,
                    customer_id=cid,
                    reference=f"BENCH-PAY-{k}",
                    received_on=AS_OF,
                    amount=owed,
                    method="transfer",
                )
            started = time.perf_counter()
            again = run_collections(engine, policy, as_of=AS_OF, customer_ids=[cid], now=NOW)
            times.append(time.perf_counter() - started)
            left += sum(d.stage is None for d in again.transitions)
        note(
            "bench collections: re-evaluations "
            + ", ".join(f"{1000 * t:.1f}" for t in times)
            + f" ms; {left} of {len(times)} back in good standing"
        )
        if times:
            yield base | {
                "metric": "reevaluate_ms",
                "value": round(1000 * statistics.median(times), 2),
                "unit": "ms",
                "target": 20,
                "better": "lower",
                "n": f"median of {len(times)} customers, {n}",
            }
    finally:
        engine.dispose()


def main(scale: float, dbs: list[str]) -> Iterator[dict]:
    """Each figure as soon as it is measured."""
    with tempfile.TemporaryDirectory(prefix="riskdesk-bench-policy-") as directory:
        policy = _policy(Path(directory))
        for db in dbs:
            with fresh_database(db) as url:
                if url is None:
                    continue
                note(f"bench collections: {db} at scale {scale}")
                yield from run(scale, db, url, policy)
