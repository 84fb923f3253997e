"""Generate a synthetic reseller book in memory, deterministically from a seed.

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
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from riskdesk.demo import catalog as cat
from riskdesk.imports.rowhash import fold, value_hashes
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
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


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


class _Generator:
    def __init__(self, customers: int, seed: int, as_of: date, months: int) -> None:
        if customers < 1:
            raise ValueError("customers must be at least 1")
        if months < 1:
            raise ValueError("months must be at least 1")
        self.n = customers
        self.seed = seed
        self.as_of = as_of
        self.months = months
        self.book_start = add_months(as_of.replace(day=1), -months)
        # period m covers [period_starts[m], period_starts[m + 1]); m == months is unbilled
        self.period_starts = [add_months(self.book_start, m) for m in range(months + 2)]
        self.days = (as_of - self.book_start).days  # usage days: 0 .. days - 1
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

    def count(self, behaviour: str) -> int:
        share = _SHARES[behaviour]
        return max(1, round(share * self.n)) if self.n >= 20 else int(share * self.n >= 0.5)

    # ---------------------------------------------------------------- customers
    def make_customers(self) -> None:
        r, n = self.r_cust, self.n
        countries = list(cat.COUNTRIES)
        shares = np.array([cat.COUNTRIES[c][1] for c in countries])
        country_ix = r.choice(len(countries), size=n, p=shares / shares.sum())
        segment_ix = r.choice(3, size=n, p=[0.72, 0.20, 0.08])
        when = r.random(n)
        old = r.integers(30, 8 * 365, size=n)
        within = r.integers(0, max(1, self.days - 21), size=n)
        recent = r.integers(1, 22, size=n)
        n_fraud = self.count("signup_fraud")
        fraud_ix = set(r.choice(n, size=n_fraud, replace=False).tolist()) if n_fraud else set()
        fraud_age = r.integers(6, 31, size=n)
        created: list[date] = []
        for i in range(n):
            if i in fraud_ix:
                day = self.as_of - timedelta(days=int(fraud_age[i]))
            elif when[i] < 0.85:
                day = self.book_start - timedelta(days=int(old[i]))
            elif when[i] < 0.97:
                day = self.book_start + timedelta(days=int(within[i]))
            else:
                day = self.as_of - timedelta(days=int(recent[i]))
            created.append(min(day, self.as_of - timedelta(days=1)))
        order = sorted(range(n), key=lambda i: (created[i], i))
        names: set[str] = set()
        domains: set[str] = set()
        idx_fraud: list[int] = []
        for new_idx, i in enumerate(order):
            country = countries[int(country_ix[i])]
            currency, _, suffixes, tld, home = cat.COUNTRIES[country]
            segment = ("smb", "enterprise", "public_sector")[int(segment_ix[i])]
            if i in fraud_ix:
                segment = "smb"
                idx_fraud.append(new_idx)
            name, slug = self._name(country, segment, suffixes)
            base = name
            k = 2
            while name in names:
                name = f"{base} ({k})"
                k += 1
            names.add(name)
            domain = f"{slug}.{tld}"
            k = 2
            while domain in domains:
                domain = f"{slug}{k}.{tld}"
                k += 1
            domains.add(domain)
            mailbox = cat.BILLING_MAILBOXES[int(r.integers(len(cat.BILLING_MAILBOXES)))]
            if segment == "smb":
                terms = int(r.choice([30, 14, 45, 60], p=[0.8, 0.12, 0.05, 0.03]))
            elif segment == "enterprise":
                terms = int(r.choice([30, 45, 60], p=[0.6, 0.25, 0.15]))
            else:
                terms = int(r.choice([30, 45, 60], p=[0.4, 0.3, 0.3]))
            regions = [home[int(r.integers(len(home)))]]
            if r.random() < 0.3:
                pool = cat.CHINA_REGIONS if country == "CN" else home + ("westeurope", "eastus")
                other = pool[int(r.integers(len(pool)))]
                if other not in regions:
                    regions.append(other)
            tags = [segment]
            if country == "CN":
                tags.append("21vianet")
            if i not in fraud_ix and r.random() < 0.02:
                tags.append("enforcement_off")
            method = str(r.choice(["bank_transfer", "direct_debit", "card"], p=[0.7, 0.2, 0.1]))
            self.customers.append(
                Customer(
                    idx=new_idx,
                    provider_id=_uuid(self.r_ids),
                    name=name,
                    domain=domain,
                    country=country,
                    email=f"{mailbox}@{domain}",
                    currency=currency,
                    terms=terms,
                    segment=segment,
                    tags=tags,
                    created_on=created[i],
                    regions=regions,
                    method=method,
                )
            )
        for idx in idx_fraud:
            self.customers[idx].behaviour = "signup_fraud"

    def _name(self, country: str, segment: str, suffixes: tuple[str, ...]) -> tuple[str, str]:
        r = self.r_cust
        if country == "CN":
            city = cat.CN_CITIES[int(r.integers(len(cat.CN_CITIES)))]
            word = cat.CN_NAMES[int(r.integers(len(cat.CN_NAMES)))]
            trade = cat.CN_TRADES[int(r.integers(len(cat.CN_TRADES)))]
            return f"{city} {word} {trade} Co., Ltd.", f"{word}{trade.split()[0]}".lower()
        first = cat.NAME_FIRST[int(r.integers(len(cat.NAME_FIRST)))]
        if segment == "public_sector":
            second = cat.PUBLIC_SECTOR_NAMES[int(r.integers(len(cat.PUBLIC_SECTOR_NAMES)))]
            slug = "".join(ch for ch in f"{first}{second.split()[0]}".lower() if ch.isalnum())
            return f"{first} {second}", slug
        second = cat.NAME_SECOND[int(r.integers(len(cat.NAME_SECOND)))]
        suffix = suffixes[int(r.integers(len(suffixes)))]
        slug = "".join(ch for ch in f"{first}{second}".lower() if ch.isalnum())
        return f"{first} {second} {suffix}", slug

    # ---------------------------------------------------------------- subscriptions
    def make_subscriptions(self) -> None:
        r = self.r_subs
        last = self.as_of - timedelta(days=1)
        for c in self.customers:
            if c.behaviour == "signup_fraud":
                self._fraud_subscriptions(c)
                continue
            fx = cat.FX[c.currency]
            age = (last - c.created_on).days
            offers = [o for o in cat.SEAT_OFFERS if o.segment in ("any", c.segment)]
            if c.segment == "public_sector":
                offers = [o for o in cat.SEAT_OFFERS if o.segment in ("any", "enterprise")]
            n_seat = {"smb": (1, 3), "enterprise": (3, 6), "public_sector": (2, 4)}[c.segment]
            k = min(len(offers), int(r.integers(n_seat[0], n_seat[1] + 1)))
            chosen = r.choice(len(offers), size=k, replace=False)
            for j, o_ix in enumerate(sorted(chosen.tolist())):
                offer = offers[o_ix]
                low, high = {
                    "smb": (3, 60),
                    "enterprise": (100, 3000),
                    "public_sector": (50, 800),
                }[c.segment]
                qty = int(np.exp(r.uniform(np.log(low), np.log(high))))
                if offer.monthly_usd >= 50:
                    qty = max(3, qty // 10)
                annual = r.random() < 0.3
                monthly_micros = _round_minor(round(offer.monthly_usd * fx * _MICROS), c.currency)
                created = c.created_on + timedelta(
                    days=0 if j == 0 else int(r.integers(0, max(1, age)))
                )
                sub = self._add_sub(
                    c,
                    offer,
                    "seat",
                    qty,
                    monthly_micros * (12 if annual else 1),
                    "annual" if annual else "monthly",
                    created,
                )
                if not annual:
                    lo = max(created, self.book_start)
                    span = (self.as_of - lo).days
                    for _ in range(int(r.poisson(0.8)) if span > 1 else 0):
                        day = lo + timedelta(days=int(r.integers(1, span)))
                        sub.additions.append((day, max(1, int(qty * r.uniform(0.05, 0.2)))))
                    sub.additions.sort()
                roll = r.random()
                if roll < 0.02 and not sub.additions and (last - created).days > 40:
                    sub.status = "deleted"
                    sub.cancel_on = created + timedelta(
                        days=int(r.integers(30, (last - created).days))
                    )
                elif roll > 0.995:
                    sub.status = "suspended"
            p_plan = {"smb": 0.2, "enterprise": 0.6, "public_sector": 0.4}[c.segment]
            if r.random() < p_plan:
                created = c.created_on + timedelta(days=int(r.integers(0, max(1, min(age, 400)))))
                plan = self._add_sub(c, cat.AZURE_PLAN, "consumption", 1, 0, "none", created)
                plan.entitlements = [_uuid(self.r_ids) for _ in range(int(r.integers(1, 3)))]
                self._normal_series(c, plan)

    def _add_sub(
        self,
        c: Customer,
        offer: cat.Offer,
        kind: str,
        qty: int,
        unit_price_micros: int,
        cycle: str,
        created: date,
    ) -> Sub:
        sub = Sub(
            idx=len(self.subs),
            cust=c.idx,
            provider_id=_uuid(self.r_ids),
            offer=offer,
            kind=kind,
            qty0=qty,
            unit_price_micros=unit_price_micros,
            currency=c.currency,
            cycle=cycle,
            created_on=created,
        )
        self.subs.append(sub)
        c.subs.append(sub.idx)
        return sub

    def _normal_series(self, c: Customer, plan: Sub) -> None:
        r = self.r_subs
        weights = np.array([3.0, 1.5, 1.5, 3.0, 2.0, 1.5, 1.5, 1.0])
        k_range = {"smb": (1, 2), "enterprise": (2, 3), "public_sector": (2, 2)}[c.segment]
        k = int(r.integers(k_range[0], k_range[1] + 1))
        meters = r.choice(len(cat.METERS), size=k, replace=False, p=weights / weights.sum())
        d0 = max(0, self.day_index(plan.created_on))
        scale = {"smb": 0.6, "enterprise": 3.0, "public_sector": 1.5}[c.segment]
        for m in sorted(meters.tolist()):
            meter = cat.METERS[m]
            lo, hi = meter.base_qty
            region = c.regions[0] if len(c.regions) == 1 or r.random() < 0.7 else c.regions[1]
            self.series.append(
                Series(
                    sub=plan.idx,
                    meter=m,
                    region=region,
                    entitlement=plan.entitlements[int(r.integers(len(plan.entitlements)))],
                    d0=d0,
                    d1=self.days,
                    base=float(np.exp(r.uniform(np.log(lo), np.log(hi)))) * scale,
                    growth=float(r.normal(0.15, 0.15)),
                    weekend=meter.weekend_factor,
                    sigma=float(r.uniform(0.05, 0.15)),
                )
            )

    def _fraud_subscriptions(self, c: Customer) -> None:
        """Sign-up fraud: an Azure plan at once, GPU usage within days, a big reservation."""
        r = self.r_plants
        plan = self._add_sub(c, cat.AZURE_PLAN, "consumption", 1, 0, "none", c.created_on)
        plan.entitlements = [_uuid(self.r_ids)]
        gpu_ix = len(cat.METERS) + int(r.integers(len(cat.GPU_METERS)))
        gpu = cat.ALL_METERS[gpu_ix]
        region = self._far_region(c, r)
        start = min(c.created_on + timedelta(days=int(r.integers(0, 3))), self.as_of)
        vms = int(r.integers(8, 40))
        if start < self.as_of:
            self.series.append(
                Series(
                    sub=plan.idx,
                    meter=gpu_ix,
                    region=region,
                    entitlement=plan.entitlements[0],
                    d0=self.day_index(start),
                    d1=self.days,
                    base=vms * 24.0,
                    sigma=0.03,
                    first_day_factor=0.4,
                )
            )
        fx = cat.FX[c.currency]
        res_qty = int(r.integers(4, 12))
        res_micros = _round_minor(
            round(gpu.usd_per_unit * 24 * 365 * 0.6 * res_qty * fx * _MICROS), c.currency
        )
        order_day = self.clamp_day(
            self.as_of - timedelta(days=int(r.integers(1, 6))),
            c.created_on,
            self.as_of - timedelta(days=1),
        )
        self._order(c, order_day, cat.RESERVATION_OFFER.offer_id, res_qty, res_micros)
        self.one_time.setdefault(c.idx, []).append(
            (order_day, cat.RESERVATION_OFFER.name, plan.idx, res_qty, res_micros)
        )
        self.record(
            c,
            "signup_fraud",
            c.created_on,
            {
                "meaning": "new customer, large reservation order and GPU usage at once; "
                "never pays",
                "gpu_meter_id": gpu.meter_id,
                "gpu_meter_name": gpu.name,
                "region": region,
                "gpu_usage_from": start.isoformat() if start < self.as_of else None,
                "gpu_hours_per_day": vms * 24,
                "reservation_order_on": order_day.isoformat(),
                "reservation_amount_micros": res_micros,
                "currency": c.currency,
            },
            plan,
        )

    def _far_region(self, c: Customer, r: np.random.Generator) -> str:
        if c.country == "CN":
            pool = [x for x in cat.CHINA_REGIONS if x not in c.regions]
        else:
            pool = [x for x in cat.FAR_REGIONS_GLOBAL if x not in c.regions]
        return pool[int(r.integers(len(pool)))]

    # ---------------------------------------------------------------- behaviours and plants
    def assign_behaviours(self) -> None:
        r = self.r_behav
        cutoff = self.as_of - timedelta(days=150)
        free = [
            c.idx
            for c in self.customers
            if c.behaviour == "on_time"
            and c.created_on <= max(cutoff, self.book_start)
            and any(self._billed_monthly(self.subs[s]) for s in c.subs)
        ]
        order = r.permutation(len(free)).tolist()
        pool = [free[i] for i in order]
        for behaviour in PAYER_BEHAVIOURS:
            for _ in range(self.count(behaviour)):
                if not pool:
                    break
                self.customers[pool.pop()].behaviour = behaviour
        # misuse plants: on-time customers whose Azure plan has four weeks of history
        plans = {}
        for s in self.subs:
            c = self.customers[s.cust]
            if s.kind == "consumption" and c.behaviour == "on_time":
                plans[c.idx] = s
        rp = self.r_plants
        candidates = sorted(plans)
        rp.shuffle(candidates)
        for behaviour in MISUSE_BEHAVIOURS:
            placed = 0
            while placed < self.count(behaviour) and candidates:
                c = self.customers[candidates.pop()]
                plan = plans[c.idx]
                latest = 8 if behaviour == "runaway_spend" else 3
                start = self.as_of - timedelta(days=int(rp.integers(latest, 41)))
                earliest = plan.created_on + timedelta(days=28)
                if earliest > self.as_of - timedelta(days=latest):
                    continue
                start = max(start, earliest)
                getattr(self, f"_plant_{behaviour}")(c, plan, start, rp)
                c.plant = behaviour
                placed += 1

    def _billed_monthly(self, sub: Sub) -> bool:
        """Charged every month from its start (so its customer has an invoice a month)."""
        return sub.status != "deleted" and sub.cycle != "annual"

    def _plant_gpu_burst(self, c: Customer, plan: Sub, start: date, r: np.random.Generator) -> None:
        gpu_ix = len(cat.METERS) + int(r.integers(len(cat.GPU_METERS)))
        gpu = cat.ALL_METERS[gpu_ix]
        new_region = bool(r.random() < 0.7)
        region = self._far_region(c, r) if new_region else c.regions[0]
        used_regions = {s.region for s in self.series if s.sub == plan.idx}
        new_region = region not in used_regions
        vms = int(r.integers(4, 40))
        end = self.as_of
        if r.random() < 0.2:
            end = min(self.as_of, start + timedelta(days=int(r.integers(2, 9))))
        self.series.append(
            Series(
                sub=plan.idx,
                meter=gpu_ix,
                region=region,
                entitlement=plan.entitlements[0],
                d0=self.day_index(start),
                d1=self.day_index(end),
                base=vms * 24.0,
                sigma=0.03,
                first_day_factor=0.35,
            )
        )
        self.record(
            c,
            "gpu_burst",
            start,
            {
                "meter_id": gpu.meter_id,
                "meter_name": gpu.name,
                "region": region,
                "new_region": new_region,
                "hours_per_day": vms * 24,
                "last_day": (end - timedelta(days=1)).isoformat(),
            },
            plan,
        )

    def _plant_runaway_spend(
        self, c: Customer, plan: Sub, start: date, r: np.random.Generator
    ) -> None:
        own = [s for s in self.series if s.sub == plan.idx]
        compute = [s for s in own if cat.ALL_METERS[s.meter].unit == "1 Hour"] or own
        target = max(compute, key=lambda s: s.base)
        target.ramp_start = self.day_index(start)
        target.ramp_days = int(r.integers(3, 8))
        target.ramp_factor = float(np.round(r.uniform(4.0, 10.0), 2))
        meter = cat.ALL_METERS[target.meter]
        self.record(
            c,
            "runaway_spend",
            start,
            {
                "meter_id": meter.meter_id,
                "meter_name": meter.name,
                "region": target.region,
                "factor": target.ramp_factor,
                "ramp_days": target.ramp_days,
            },
            plan,
        )

    def _plant_new_region(
        self, c: Customer, plan: Sub, start: date, r: np.random.Generator
    ) -> None:
        own = [s for s in self.series if s.sub == plan.idx]
        template = own[int(r.integers(len(own)))]
        region = self._far_region(c, r)
        self.series.append(
            Series(
                sub=plan.idx,
                meter=template.meter,
                region=region,
                entitlement=plan.entitlements[-1],
                d0=self.day_index(start),
                d1=self.days,
                base=template.base * float(r.uniform(1.0, 3.0)),
                weekend=template.weekend,
                sigma=template.sigma,
            )
        )
        meter = cat.ALL_METERS[template.meter]
        self.record(
            c,
            "new_region",
            start,
            {"meter_id": meter.meter_id, "meter_name": meter.name, "region": region},
            plan,
        )

    # ---------------------------------------------------------------- usage
    def make_usage(self) -> dict[str, Any]:
        r = self.r_usage
        s = self.series
        d0 = np.array([x.d0 for x in s], dtype=np.int64)
        d1 = np.array([x.d1 for x in s], dtype=np.int64)
        lengths = np.maximum(d1 - d0, 0)
        total = int(lengths.sum())
        sid = np.repeat(np.arange(len(s)), lengths)
        offsets = np.cumsum(lengths) - lengths
        day = d0[sid] + (np.arange(total) - offsets[sid])
        weekday = np.array([d.weekday() for d in self.dates[: self.days]], dtype=np.int64)
        weekend = weekday[day] >= 5 if total else np.zeros(0, dtype=bool)
        f = lambda name: np.array([getattr(x, name) for x in s], dtype=np.float64)  # noqa: E731
        base, growth, wkd, sigma = f("base"), f("growth"), f("weekend"), f("sigma")
        rs, rd, rf = f("ramp_start"), f("ramp_days"), f("ramp_factor")
        first = f("first_day_factor")
        t = day.astype(np.float64)
        qty = base[sid] * np.exp(growth[sid] * t / 365.0)
        qty *= np.where(weekend, wkd[sid], 1.0)
        qty *= np.exp(r.standard_normal(total) * sigma[sid])
        qty *= 1.0 + (rf[sid] - 1.0) * np.clip((t - rs[sid] + 1.0) / rd[sid], 0.0, 1.0)
        qty *= np.where(day == d0[sid], first[sid], 1.0)
        qty = np.round(qty, 4)
        sub_ix = np.array([x.sub for x in s], dtype=np.int64)
        cust_ix = np.array([self.subs[x.sub].cust for x in s], dtype=np.int64)
        price = np.array(
            [
                cat.ALL_METERS[x.meter].usd_per_unit
                * cat.FX[self.customers[self.subs[x.sub].cust].currency]
                * _MICROS
                for x in s
            ],
            dtype=np.float64,
        )
        amount = np.maximum(np.rint(qty * price[sid]).astype(np.int64), 1)
        boundaries = np.array([self.day_index(p) for p in self.period_starts[: self.months + 1]])
        month = np.searchsorted(boundaries, day, side="right") - 1
        # sums per (subscription, month) for the invoices
        per = self.months + 1
        sums = np.bincount(
            sub_ix[sid] * per + month,
            weights=amount.astype(np.float64),
            minlength=len(self.subs) * per,
        )
        qsum = np.bincount(sub_ix[sid] * per + month, weights=qty, minlength=len(self.subs) * per)
        return {
            "sid": sid,
            "day": day,
            "qty": qty,
            "amount": amount,
            "month": month,
            "cust": cust_ix[sid],
            "sums": np.rint(sums).astype(np.int64).reshape(len(self.subs), per),
            "qsum": qsum.reshape(len(self.subs), per),
        }

    def _usage_identity(self, sid: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Row hashes as the `pc-usage` importer computes them for the same line items.

        The sandbox serves this book's usage as Partner Center line items (no resource URI,
        charge type "new", unit type = the meter's unit), so a sync of the demo book from its
        sandbox finds every row already present instead of adding it twice.
        """
        s = self.series
        meters = [cat.ALL_METERS[x.meter] for x in s]

        def per_series(values: list[str]) -> np.ndarray:
            return value_hashes(values)[sid]

        columns = [
            per_series([self.customers[self.subs[x.sub].cust].provider_id.lower() for x in s]),
            per_series([self.subs[x.sub].provider_id.lower() for x in s]),
            per_series([(x.entitlement or "").lower() for x in s]),
            value_hashes([str(d) for d in self.iso])[day],
            per_series([m.meter_id.lower() for m in meters]),
            per_series([""] * len(s)),  # ResourceURI
            per_series([x.region or "" for x in s]),
            per_series(["new"] * len(s)),  # ChargeType
            per_series([m.unit or "" for m in meters]),  # UnitType
        ]
        return fold(columns)

    # ---------------------------------------------------------------- invoices
    def make_invoices(self, usage: dict[str, Any]) -> list[dict[str, Any]]:
        invoices: list[dict[str, Any]] = []
        sums = usage["sums"]
        for c in self.customers:
            extra = self.one_time.get(c.idx, [])
            for m in range(self.months):
                p0, p1 = self.period_starts[m], self.period_starts[m + 1]
                if c.created_on >= p1:
                    continue
                lines: list[tuple[str, int | None, int, int]] = []
                label = p0.strftime("%b %Y")
                for s_ix in c.subs:
                    sub = self.subs[s_ix]
                    if sub.created_on >= p1:
                        continue
                    if sub.kind == "seat":
                        if sub.cancel_on is not None and sub.cancel_on < p0:
                            continue
                        if sub.cycle == "monthly":
                            qty = sub.quantity_before(p1)
                        elif sub.created_on.month == p0.month:
                            qty = sub.qty0
                        else:
                            continue
                        lines.append(
                            (
                                f"{sub.offer.name}, {sub.cycle} licences, {label}",
                                sub.id,
                                qty * _MICROS,
                                qty * sub.unit_price_micros,
                            )
                        )
                    else:
                        micros = _round_minor(int(sums[s_ix, m]), c.currency)
                        if usage["qsum"][s_ix, m] > 0:
                            lines.append((f"Azure plan usage, {label}", sub.id, _MICROS, micros))
                for day, desc, s_ix, qty, micros in extra:
                    if p0 <= day < p1:
                        sub_id = None if s_ix is None else self.subs[s_ix].id
                        lines.append((desc, sub_id, qty * _MICROS, micros))
                if not lines:
                    continue
                invoices.append(
                    {
                        "cust": c.idx,
                        "month": m,
                        "number": f"INV{p1:%Y%m}-{c.id:06d}",
                        "issued_on": p1,
                        "due_on": p1 + timedelta(days=c.terms),
                        "period_start": p0,
                        "period_end": p1 - timedelta(days=1),
                        "currency": c.currency,
                        "total": sum(line[3] for line in lines),
                        "lines": lines,
                        "disputed": False,
                        "paid": 0,
                    }
                )
        invoices.sort(key=lambda inv: (inv["issued_on"], inv["cust"]))
        for i, inv in enumerate(invoices):
            inv["id"] = i + 1
        return invoices

    # ---------------------------------------------------------------- payments
    def make_payments(self, invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = self.r_pay
        by_cust: dict[int, list[dict[str, Any]]] = {}
        for inv in invoices:
            by_cust.setdefault(inv["cust"], []).append(inv)
        payments: list[dict[str, Any]] = []
        on_time = [c.idx for c in self.customers if c.behaviour == "on_time" and c.idx in by_cust]
        n_over = min(self.count("overpayment"), len(on_time))
        overpayers = (
            set(r.choice(on_time, size=n_over, replace=False).tolist()) if n_over else set()
        )
        for c in self.customers:
            own = by_cust.get(c.idx, [])
            if not own or c.behaviour == "signup_fraud":
                continue
            handler = getattr(self, f"_pay_{c.behaviour}")
            handler(c, own, payments, r)
            if c.idx in overpayers:
                self._overpay(c, payments, r)
        payments.sort(key=lambda p: (p["received_on"], p["cust"], p["allocations"][0][0]))
        for i, p in enumerate(payments):
            p["id"] = i + 1
            p["reference"] = f"PMT{p['received_on']:%Y%m%d}-{i + 1:06d}"
        return payments

    def _on_time_day(self, inv: dict[str, Any], c: Customer, r: np.random.Generator) -> date:
        return inv["issued_on"] + timedelta(days=int(r.integers(3, c.terms + 1)))

    def _pay(
        self,
        c: Customer,
        payments: list[dict[str, Any]],
        day: date,
        allocations: list[tuple[dict[str, Any], int]],
        amount: int | None = None,
    ) -> bool:
        """Record a payment if it was received before as_of; False when it was not."""
        allocations = [(inv, a) for inv, a in allocations if a > 0]
        if day >= self.as_of or not allocations:
            return False
        for inv, a in allocations:
            inv["paid"] += a
        payments.append(
            {
                "cust": c.idx,
                "received_on": day,
                "currency": c.currency,
                "amount": amount if amount is not None else sum(a for _, a in allocations),
                "allocations": [(inv["id"], inv["number"], a) for inv, a in allocations],
            }
        )
        return True

    def _pay_on_time(self, c, own, payments, r) -> None:
        for inv in own:
            self._pay(c, payments, self._on_time_day(inv, c, r), [(inv, inv["total"])])

    def _pay_habitually_late(self, c, own, payments, r) -> None:
        delays = []
        for inv in own:
            delay = int(r.integers(10, 46))
            delays.append(delay)
            self._pay(c, payments, inv["due_on"] + timedelta(days=delay), [(inv, inv["total"])])
        self.record(
            c,
            "habitually_late",
            own[0]["due_on"],
            {"days_late_min": 10, "days_late_max": 45, "mean_days_late": round(np.mean(delays), 1)},
        )

    def _pay_deteriorating(self, c, own, payments, r) -> None:
        low = max(self.book_start + timedelta(days=20), c.created_on + timedelta(days=30))
        stop = self.clamp_day(self.as_of - timedelta(days=int(r.integers(40, 71))), low, self.as_of)
        begin = self.clamp_day(
            self.as_of - timedelta(days=int(r.integers(150, 211))),
            low - timedelta(days=60),
            stop - timedelta(days=30),
        )
        span = max(1, (stop - begin).days)
        for inv in own:
            if inv["due_on"] < begin:
                day = self._on_time_day(inv, c, r)
            else:
                late = 3 + 45 * (inv["due_on"] - begin).days / span + r.integers(-2, 3)
                day = inv["due_on"] + timedelta(days=max(1, int(late)))
            if day >= stop:
                continue
            self._pay(c, payments, day, [(inv, inv["total"])])
        self.record(
            c,
            "deteriorating",
            begin,
            {
                "meaning": "invoices due from start are paid later and later",
                "stops_paying_on": stop.isoformat(),
            },
        )

    def _pay_defaulting(self, c, own, payments, r) -> None:
        low = max(self.book_start + timedelta(days=20), c.created_on + timedelta(days=30))
        stop = self.clamp_day(
            self.as_of - timedelta(days=int(r.integers(40, 121))),
            low,
            self.as_of - timedelta(days=10),
        )
        unpaid = []
        for inv in own:
            # pays in the last days before the due date, so an invoice falls due unpaid
            day = max(inv["issued_on"], inv["due_on"] - timedelta(days=int(r.integers(0, 6))))
            if day >= stop or not self._pay(c, payments, day, [(inv, inv["total"])]):
                unpaid.append(inv["number"])
        self.record(
            c,
            "defaulting",
            stop,
            {"meaning": "no payment received on or after start", "unpaid_invoices": unpaid},
        )

    def _pay_disputing(self, c, own, payments, r) -> None:
        recent = [inv for inv in own[-4:] if inv["due_on"] < self.as_of] or own[-1:]
        k = min(len(recent), int(r.integers(1, 3)))
        chosen = sorted(r.choice(len(recent), size=k, replace=False).tolist())
        disputed = [recent[i] for i in chosen]
        for inv in disputed:
            inv["disputed"] = True
        for inv in own:
            if not inv["disputed"]:
                self._pay(c, payments, self._on_time_day(inv, c, r), [(inv, inv["total"])])
        self.record(
            c,
            "disputing",
            disputed[0]["issued_on"],
            {"disputed_invoices": [inv["number"] for inv in disputed]},
        )

    def _pay_partial_payer(self, c, own, payments, r) -> None:
        carry: list[tuple[dict[str, Any], int]] = []
        first_partial: date | None = None
        partial_count = 0
        for i, inv in enumerate(own):
            day = self._on_time_day(inv, c, r)
            if day >= self.as_of:
                break
            share = inv["total"]
            if r.random() < 0.6 or (i == len(own) - 1 and first_partial is None):
                share = _round_minor(int(inv["total"] * r.uniform(0.4, 0.9)), c.currency)
            allocations = carry + [(inv, share)]
            if self._pay(c, payments, day, allocations):
                carry = [(inv, inv["total"] - share)] if share < inv["total"] else []
                if share < inv["total"]:
                    partial_count += 1
                    first_partial = first_partial or day
        if first_partial is not None:
            self.record(
                c,
                "partial_payer",
                first_partial,
                {
                    "meaning": "pays part of an invoice by its due date, the rest with the "
                    "next payment",
                    "partial_payments": partial_count,
                },
            )
        else:
            c.behaviour = "on_time"

    def _overpay(self, c: Customer, payments: list[dict[str, Any]], r) -> None:
        own = [p for p in payments if p["cust"] == c.idx]
        if not own:
            return
        p = own[int(r.integers(len(own)))]
        excess = _round_minor(int(p["amount"] * r.uniform(0.05, 1.0)), c.currency)
        if excess <= 0:
            return
        p["amount"] += excess
        self.record(
            c,
            "overpayment",
            p["received_on"],
            {
                "invoice": p["allocations"][0][1],
                "excess_micros": excess,
                "currency": c.currency,
                "meaning": "the payment exceeds what it pays; the excess is unapplied credit",
            },
        )
        p["overpaid"] = True

    # ---------------------------------------------------------------- orders
    def make_orders(self) -> None:
        r = self.r_orders
        for sub in self.subs:
            c = self.customers[sub.cust]
            if sub.created_on >= self.book_start:
                amount = sub.qty0 * sub.unit_price_micros
                self._order(c, sub.created_on, sub.offer.offer_id, sub.qty0, amount)
            for day, qty in sub.additions:
                self._order(c, day, sub.offer.offer_id, qty, qty * sub.unit_price_micros)
        # a few cancelled orders (placed and withdrawn; not on any invoice)
        seat_subs = [s for s in self.subs if s.kind == "seat" and s.status == "active"]
        if seat_subs:
            for i in r.choice(len(seat_subs), size=max(1, len(seat_subs) // 150)).tolist():
                sub = seat_subs[i]
                c = self.customers[sub.cust]
                low = max(c.created_on, self.book_start)
                span = max(1, (self.as_of - low).days)
                day = low + timedelta(days=int(r.integers(0, span)))
                qty = int(r.integers(1, 20))
                self._order(
                    c,
                    day,
                    sub.offer.offer_id,
                    qty,
                    qty * sub.unit_price_micros,
                    status="cancelled",
                )

    def _order(
        self,
        c: Customer,
        day: date,
        offer_id: str,
        qty: int,
        amount: int,
        status: str | None = None,
    ) -> None:
        if status is None:
            status = "open" if day >= self.last_invoice_day else "invoiced"
        self.orders.append(
            (c.idx, datetime.combine(day, datetime.min.time()), offer_id, qty, amount, status)
        )

    # ---------------------------------------------------------------- credit limits
    def set_credit_limits(self, invoices: list[dict[str, Any]]) -> None:
        r = self.r_cust
        monthly: dict[int, list[int]] = {}
        for inv in invoices:
            monthly.setdefault(inv["cust"], []).append(inv["total"])
        for c in self.customers:
            unit = _MICROS * 10 ** max(0, int(np.log10(cat.FX[c.currency])))
            if c.behaviour == "signup_fraud":
                c.credit_limit_micros = 2000 * unit
                continue
            if r.random() < 0.05:
                continue  # no limit set
            totals = monthly.get(c.idx) or [1000 * unit]
            limit = 3 * float(np.median(totals))
            step = 1000 * unit
            c.credit_limit_micros = int(max(step, np.ceil(limit / step) * step))

    # ---------------------------------------------------------------- rows
    def build(self) -> Book:
        self.make_customers()
        self.make_subscriptions()
        self.assign_behaviours()
        usage = self.make_usage()
        invoices = self.make_invoices(usage)
        payments = self.make_payments(invoices)
        self.make_orders()
        self.set_credit_limits(invoices)
        tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        tables["customers"] = (
            [
                "id",
                "provider_customer_id",
                "name",
                "domain",
                "country",
                "billing_email",
                "currency",
                "payment_terms_days",
                "credit_limit_micros",
                "tags",
                "created_on",
            ],
            [
                (
                    c.id,
                    c.provider_id,
                    c.name,
                    c.domain,
                    c.country,
                    c.email,
                    c.currency,
                    c.terms,
                    c.credit_limit_micros,
                    json.dumps(c.tags),
                    c.created_on,
                )
                for c in self.customers
            ],
        )
        tables["subscriptions"] = (
            [
                "id",
                "customer_id",
                "provider_subscription_id",
                "offer_id",
                "offer_name",
                "kind",
                "quantity",
                "unit_price_micros",
                "currency",
                "billing_cycle",
                "provider_status",
                "created_on",
            ],
            [
                (
                    s.id,
                    s.cust + 1,
                    s.provider_id,
                    s.offer.offer_id,
                    s.offer.name,
                    s.kind,
                    s.quantity,
                    s.unit_price_micros,
                    s.currency,
                    s.cycle,
                    s.status,
                    s.created_on,
                )
                for s in self.subs
            ],
        )
        tables["invoices"] = (
            [
                "id",
                "customer_id",
                "number",
                "issued_on",
                "due_on",
                "period_start",
                "period_end",
                "currency",
                "total_micros",
                "disputed",
            ],
            [
                (
                    inv["id"],
                    inv["cust"] + 1,
                    inv["number"],
                    inv["issued_on"],
                    inv["due_on"],
                    inv["period_start"],
                    inv["period_end"],
                    inv["currency"],
                    inv["total"],
                    inv["disputed"],
                )
                for inv in invoices
            ],
        )
        line_rows = []
        for inv in invoices:
            for no, (desc, sub_id, qty, micros) in enumerate(inv["lines"], start=1):
                line_rows.append((len(line_rows) + 1, inv["id"], no, desc, sub_id, qty, micros))
        tables["invoice_lines"] = (
            [
                "id",
                "invoice_id",
                "line_no",
                "description",
                "subscription_id",
                "quantity_micros",
                "amount_micros",
            ],
            line_rows,
        )
        r = self.r_pay
        pay_rows, alloc_rows = [], []
        for p in payments:
            c = self.customers[p["cust"]]
            applies = [a[1] for a in p["allocations"]] if r.random() < 0.85 else []
            pay_rows.append(
                (
                    p["id"],
                    c.id,
                    p["reference"],
                    p["received_on"],
                    p["currency"],
                    p["amount"],
                    c.method,
                    json.dumps(applies),
                )
            )
            for inv_id, _, amount in p["allocations"]:
                alloc_rows.append((len(alloc_rows) + 1, p["id"], inv_id, p["received_on"], amount))
        tables["payments"] = (
            [
                "id",
                "customer_id",
                "reference",
                "received_on",
                "currency",
                "amount_micros",
                "method",
                "applies_to",
            ],
            pay_rows,
        )
        tables["payment_allocations"] = (
            ["id", "payment_id", "invoice_id", "applied_on", "amount_micros"],
            alloc_rows,
        )
        tables["usage_records"] = self._usage_rows(usage, invoices)
        ro = self.r_orders
        self.orders.sort(key=lambda o: (o[1], o[0], o[2]))
        order_rows = []
        for i, (cust, day, offer_id, qty, amount, status) in enumerate(self.orders):
            created_at = day.replace(
                hour=int(ro.integers(7, 20)), minute=int(ro.integers(0, 60)), tzinfo=UTC
            )
            c = self.customers[cust]
            order_rows.append(
                (
                    i + 1,
                    c.id,
                    _uuid(self.r_ids),
                    created_at,
                    offer_id,
                    qty,
                    c.currency,
                    amount,
                    status,
                )
            )
        tables["orders"] = (
            [
                "id",
                "customer_id",
                "provider_order_id",
                "created_at",
                "offer_id",
                "quantity",
                "currency",
                "amount_micros",
                "status",
            ],
            order_rows,
        )
        self.truth.sort(key=lambda t: (t["behaviour"], t["customer_id"], t["start"]))
        return Book(self.seed, self.as_of, self.book_start, self.months, tables, self.truth)

    def _usage_rows(
        self, usage: dict[str, Any], invoices: list[dict[str, Any]]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        sid, day = usage["sid"], usage["day"]
        order = np.lexsort((sid, day))
        sid, day = sid[order], day[order]
        per = self.months + 1
        numbers = np.full(len(self.customers) * per, None, dtype=object)
        for inv in invoices:
            numbers[inv["cust"] * per + inv["month"]] = inv["number"]
        cust = usage["cust"][order]
        inv_no = numbers[cust * per + usage["month"][order]]
        s = self.series
        sub_of = np.array([x.sub for x in s], dtype=np.int64)
        sub_ids = (sub_of + 1)[sid]
        psub = np.array([self.subs[x.sub].provider_id for x in s], dtype=object)[sid]
        ent = np.array([x.entitlement for x in s], dtype=object)[sid]
        meters = [cat.ALL_METERS[x.meter] for x in s]
        mid = np.array([m.meter_id for m in meters], dtype=object)[sid]
        mcat = np.array([m.category for m in meters], dtype=object)[sid]
        mname = np.array([m.name for m in meters], dtype=object)[sid]
        munit = np.array([m.unit for m in meters], dtype=object)[sid]
        region = np.array([x.region for x in s], dtype=object)[sid]
        currency = np.array(
            [self.customers[self.subs[x.sub].cust].currency for x in s], dtype=object
        )[sid]
        iso = np.array(self.iso, dtype=object)[day]
        n = len(sid)
        rows = list(
            zip(
                range(1, n + 1),
                (cust + 1).tolist(),
                sub_ids.tolist(),
                psub.tolist(),
                ent.tolist(),
                iso.tolist(),
                mid.tolist(),
                mcat.tolist(),
                mname.tolist(),
                region.tolist(),
                usage["qty"][order].tolist(),
                munit.tolist(),
                currency.tolist(),
                usage["amount"][order].tolist(),
                inv_no.tolist(),
                self._usage_identity(sid, day).tolist(),
                strict=True,
            )
        )
        columns = [
            "id",
            "customer_id",
            "subscription_id",
            "provider_subscription_id",
            "entitlement_id",
            "usage_date",
            "meter_id",
            "meter_category",
            "meter_name",
            "region",
            "quantity",
            "unit",
            "currency",
            "amount_micros",
            "invoice_number",
            "row_hash",
        ]
        return columns, rows


def generate_book(*, customers: int, seed: int, as_of: date, months: int) -> Book:
    """The whole demo book in memory (no database), deterministic in its arguments."""
    return _Generator(customers, seed, as_of, months).build()
