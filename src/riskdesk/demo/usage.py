"""Demo stage: daily rated usage from the series (vectorised), its row identity and rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from riskdesk.demo import catalog as cat
from riskdesk.demo.model import (
    _MICROS,
    GeneratorBase,
)
from riskdesk.imports.rowhash import canonical_texts, fold, value_hashes


class UsageMixin(GeneratorBase):
    """One row a day per series; sums per subscription and month for the invoices."""

    # ---------------------------------------------------------------- usage
    def make_usage(self) -> dict[str, Any]:
        r = self.r_usage
        s = self.series
        d0 = np.array([x.d0 for x in s], dtype=np.int64)
        d1 = np.array([x.d1 for x in s], dtype=np.int64)
        start = np.maximum(d0, self.usage_from)  # d0 unless in bulk mode
        lengths = np.maximum(d1 - start, 0)
        total = int(lengths.sum())
        sid = np.repeat(np.arange(len(s)), lengths)
        offsets = np.cumsum(lengths) - lengths
        day = start[sid] + (np.arange(total) - offsets[sid])
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
            canonical = canonical_texts(pa.array(values, pa.string())).to_pylist()
            return value_hashes(canonical)[sid]

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
