"""Demo stage: monthly invoices and the payments (per planted payer behaviour)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from riskdesk.demo.model import (
    _MICROS,
    Customer,
    GeneratorBase,
    _round_minor,
)


class BillingMixin(GeneratorBase):
    """Invoices per customer and month; payments and their allocations."""

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
                for day, desc, extra_ix, qty, micros in extra:
                    if p0 <= day < p1:
                        sub_id = None if extra_ix is None else self.subs[extra_ix].id
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
            mark = len(payments)
            handler(c, own, payments, r)
            if c.idx in overpayers:
                self._overpay(c, payments[mark:], r)  # the customer's own payments
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

    def _overpay(self, c: Customer, own: list[dict[str, Any]], r) -> None:
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
