"""The demo generator's model: behaviours, the rows it plans (customers, subscriptions, usage
series), the finished `Book`, and the generator state every stage shares.

How the book is generated (`riskdesk.demo.generate` runs the stages):

Everything is drawn from numpy generators spawned from one `SeedSequence(seed)`, one per
stage, and ids are assigned here (1, 2, ...), so the same seed and `as_of` give the same
rows, ids, amounts and dates on any database. The rows are in storage form (money as
integer micros, dates as `date` or ISO strings) ready for `riskdesk.db.bulk.bulk_insert`.

The book describes what is known at the start of `as_of`: usage up to the day before,
payments received up to the day before, orders placed before `as_of`, and invoices issued
up to and including `as_of` (invoices are issued on the first of each month for the
previous calendar month). See docs/demo.md for the behaviours and the truth file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from riskdesk.demo import catalog as cat
from riskdesk.money import minor_units

PAYER_BEHAVIOURS = ("habitually_late", "deteriorating", "defaulting", "disputing", "partial_payer")
MISUSE_BEHAVIOURS = ("gpu_burst", "runaway_spend", "new_region")
FRAUD_BEHAVIOURS = ("signup_fraud",)
OTHER_RECORDS = ("overpayment",)

# Share of customers per planted behaviour (at least one each when the book is big enough).
_SHARES = {
    "habitually_late": 0.10,
    "deteriorating": 0.04,
    "defaulting": 0.04,
    "disputing": 0.03,
    "partial_payer": 0.03,
    "gpu_burst": 0.012,
    "runaway_spend": 0.008,
    "new_region": 0.008,
    "signup_fraud": 0.004,
    "overpayment": 0.015,
}

_MICROS = 1_000_000


def add_months(day: date, k: int) -> date:
    """The first day of the month `k` months after `day`'s month."""
    years, month = divmod(day.month - 1 + k, 12)
    return date(day.year + years, month + 1, 1)


def _uuid(rng: np.random.Generator) -> str:
    """A version-4 UUID from 16 random bytes (as `uuid.UUID(bytes=..., version=4)`, faster)."""
    b = bytearray(rng.bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _quantum(currency: str) -> int:
    return 10 ** (6 - minor_units(currency))


def _round_minor(micros: int, currency: str) -> int:
    q = _quantum(currency)
    return (int(micros) + q // 2) // q * q


@dataclass
class Customer:
    idx: int
    provider_id: str
    name: str
    domain: str
    country: str
    email: str
    currency: str
    terms: int
    segment: str
    tags: list[str]
    created_on: date
    regions: list[str]
    method: str
    credit_limit_micros: int | None = None
    behaviour: str = "on_time"
    plant: str | None = None
    subs: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.idx + 1


@dataclass
class Sub:
    idx: int
    cust: int
    provider_id: str
    offer: cat.Offer
    kind: str
    qty0: int
    unit_price_micros: int
    currency: str
    cycle: str
    created_on: date
    status: str = "active"
    cancel_on: date | None = None
    additions: list[tuple[date, int]] = field(default_factory=list)
    entitlements: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.idx + 1

    def quantity_before(self, day: date) -> int:
        return self.qty0 + sum(q for d, q in self.additions if d < day)

    @property
    def quantity(self) -> int:
        return self.qty0 + sum(q for _, q in self.additions)


@dataclass
class Series:
    """One meter of one Azure plan in one region, a row a day from `d0` to `d1` (excl.)."""

    sub: int
    meter: int  # index into catalog.ALL_METERS
    region: str
    entitlement: str
    d0: int
    d1: int
    base: float
    growth: float = 0.0
    weekend: float = 1.0
    sigma: float = 0.1
    ramp_start: int = 1 << 30
    ramp_days: int = 1
    ramp_factor: float = 1.0
    first_day_factor: float = 1.0


@dataclass
class Book:
    """Rows per table (column names and tuples) and the ground truth records."""

    seed: int
    as_of: date
    book_start: date
    months: int
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
    truth: list[dict[str, Any]]

    def truth_document(self, customers: int) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for record in self.truth:
            counts[record["behaviour"]] = counts.get(record["behaviour"], 0) + 1
        return {
            "format": "riskdesk-demo-truth/1",
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "book_start": self.book_start.isoformat(),
            "months": self.months,
            "customers": customers,
            "behaviour_counts": dict(sorted(counts.items())),
            "records": self.truth,
        }


class GeneratorBase:
    """The generator's state and helpers; the stages are mixins in the sibling modules."""

    def __init__(
        self,
        customers: int,
        seed: int,
        as_of: date,
        months: int,
        usage_days: int | None = None,
        shares: Mapping[str, float] | None = None,
    ) -> None:
        if customers < 1:
            raise ValueError("customers must be at least 1")
        if months < 1:
            raise ValueError("months must be at least 1")
        if usage_days is not None and usage_days < 1:
            raise ValueError("usage_days must be at least 1")
        unknown = sorted(set(shares or {}) - set(_SHARES))
        if unknown:
            raise ValueError(f"unknown behaviour {unknown[0]!r}; known: {', '.join(_SHARES)}")
        self.shares = {**_SHARES, **(shares or {})}
        self.n = customers
        self.seed = seed
        self.as_of = as_of
        self.months = months
        self.book_start = add_months(as_of.replace(day=1), -months)
        # period m covers [period_starts[m], period_starts[m + 1]); m == months is unbilled
        self.period_starts = [add_months(self.book_start, m) for m in range(months + 2)]
        self.days = (as_of - self.book_start).days  # usage days: 0 .. days - 1
        # Bulk mode: rated usage only on the last `usage_days` days (all days without it).
        self.usage_from = 0 if usage_days is None else max(0, self.days - usage_days)
        self.dates = [self.book_start + timedelta(days=i) for i in range(self.days + 1)]
        self.iso = [d.isoformat() for d in self.dates]
        self.last_invoice_day = as_of.replace(day=1)
        streams = np.random.SeedSequence(seed).spawn(8)
        (
            self.r_cust,
            self.r_subs,
            self.r_behav,
            self.r_usage,
            self.r_pay,
            self.r_orders,
            self.r_ids,
            self.r_plants,
        ) = (np.random.default_rng(s) for s in streams)
        self.customers: list[Customer] = []
        self.subs: list[Sub] = []
        self.series: list[Series] = []
        self.truth: list[dict[str, Any]] = []
        # one-time charges: customer idx -> [(day, description, sub idx, quantity, micros)]
        self.one_time: dict[int, list[tuple[date, str, int | None, int, int]]] = {}
        self.orders: list[tuple[int, datetime, str, int, int, str]] = []

    # ---------------------------------------------------------------- helpers
    def day_index(self, day: date) -> int:
        return (day - self.book_start).days

    def clamp_day(self, day: date, low: date, high: date) -> date:
        return max(low, min(high, day))

    def period_of(self, day: date) -> int:
        for m in range(self.months + 1):
            if self.period_starts[m] <= day < self.period_starts[m + 1]:
                return m
        return -1 if day < self.book_start else self.months

    def record(
        self,
        customer: Customer,
        behaviour: str,
        start: date,
        details: dict[str, Any],
        sub: Sub | None = None,
    ) -> None:
        kind = (
            "payer"
            if behaviour in PAYER_BEHAVIOURS
            else "misuse"
            if behaviour in MISUSE_BEHAVIOURS
            else "fraud"
            if behaviour in FRAUD_BEHAVIOURS
            else "payment"
        )
        self.truth.append(
            {
                "behaviour": behaviour,
                "kind": kind,
                "customer": customer.provider_id,
                "customer_id": customer.id,
                "customer_name": customer.name,
                "subscription": sub.provider_id if sub else None,
                "subscription_id": sub.id if sub else None,
                "start": start.isoformat(),
                "details": json.loads(json.dumps(details, default=str)),
            }
        )

    # ---------------------------------------------------------------- across stages
    # Implemented by the stage mixins (subscriptions, usage); declared here for the others.
    def _far_region(self, c: Customer, r: np.random.Generator) -> str:
        raise NotImplementedError

    def _usage_rows(
        self, usage: dict[str, Any], invoices: list[dict[str, Any]]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        raise NotImplementedError

    def count(self, behaviour: str) -> int:
        share = self.shares[behaviour]
        return max(1, round(share * self.n)) if self.n >= 20 else int(share * self.n >= 0.5)
