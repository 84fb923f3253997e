"""Demo stage: customers (names, countries, terms, regions, tags) and their credit limits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from riskdesk.demo import catalog as cat
from riskdesk.demo.model import (
    _MICROS,
    Customer,
    GeneratorBase,
    _uuid,
)


class CustomersMixin(GeneratorBase):
    """Customers first, credit limits last (they depend on the invoices)."""

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
