"""Demo stage: planted behaviours (payers chosen; GPU bursts, runaway spend, new regions)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from riskdesk.demo import catalog as cat
from riskdesk.demo.model import (
    MISUSE_BEHAVIOURS,
    PAYER_BEHAVIOURS,
    Customer,
    GeneratorBase,
    Series,
    Sub,
)


class PlantsMixin(GeneratorBase):
    """Chooses who pays late or not at all and plants misuse in Azure plans' usage."""

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
        # each plan is planted at most once, so its series as they are now are what it reads
        self._plan_series: dict[int, list[Series]] = {}
        for series in self.series:
            self._plan_series.setdefault(series.sub, []).append(series)
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
        used_regions = {s.region for s in self._plan_series.get(plan.idx, [])}
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
        own = list(self._plan_series.get(plan.idx, []))
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
        own = list(self._plan_series.get(plan.idx, []))
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
