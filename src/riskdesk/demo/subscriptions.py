"""Demo stage: subscriptions (seats, Azure plans and their usage series), sign-up fraud, orders."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

from riskdesk.demo import catalog as cat
from riskdesk.demo.model import (
    _MICROS,
    Customer,
    GeneratorBase,
    Series,
    Sub,
    _round_minor,
    _uuid,
)


class SubscriptionsMixin(GeneratorBase):
    """Subscriptions per customer, the normal usage series of Azure plans, orders."""

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
