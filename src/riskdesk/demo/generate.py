"""Generate a synthetic reseller book in memory, deterministically from a seed.

Everything is drawn from numpy generators spawned from one `SeedSequence(seed)`, one per
stage, and ids are assigned here (1, 2, ...), so the same seed and `as_of` give the same
rows, ids, amounts and dates on any database. The rows are in storage form (money as
integer micros, dates as `date` or ISO strings) ready for `riskdesk.db.bulk.bulk_insert`.

The book describes what is known at the start of `as_of`: usage up to the day before,
payments received up to the day before, orders placed before `as_of`, and invoices issued
up to and including `as_of` (invoices are issued on the first of each month for the
previous calendar month). See docs/demo.md for the behaviours and the truth file.

The stages live in their own modules, one concern each: `customers`, `subscriptions` (and
orders), `plants` (planted behaviours), `usage`, `billing` (invoices and payments) and
`writer` (the rows); `model` holds the shared state and records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from riskdesk.demo.billing import BillingMixin
from riskdesk.demo.customers import CustomersMixin
from riskdesk.demo.model import Book, add_months
from riskdesk.demo.plants import PlantsMixin
from riskdesk.demo.subscriptions import SubscriptionsMixin
from riskdesk.demo.usage import UsageMixin
from riskdesk.demo.writer import WriterMixin

__all__ = ["Book", "add_months", "generate_book"]


class _Generator(
    CustomersMixin, SubscriptionsMixin, PlantsMixin, UsageMixin, BillingMixin, WriterMixin
):
    """The stages in order; the random streams are drawn in this order, so keep it."""

    def build(self) -> Book:
        self.make_customers()
        self.make_subscriptions()
        self.assign_behaviours()
        usage = self.make_usage()
        invoices = self.make_invoices(usage)
        payments = self.make_payments(invoices)
        self.make_orders()
        self.set_credit_limits(invoices)
        return self.write_book(usage, invoices, payments)


def generate_book(
    *,
    customers: int,
    seed: int,
    as_of: date,
    months: int,
    usage_days: int | None = None,
    shares: Mapping[str, float] | None = None,
) -> Book:
    """The whole demo book in memory (no database), deterministic in its arguments.

    `usage_days` is the bulk mode the benchmarks use for books of 100,000 customers: rated
    usage only on the last `usage_days` days before `as_of` (so Azure plans are invoiced only
    for the months those days fall in; a burst planted earlier is in the truth file but not
    in the usage). Without it every day of the book has its usage. `shares` overrides the
    share of customers per planted behaviour (e.g. `{"defaulting": 0.15}`; a benchmark that
    wants many customers in a collections stage).
    """
    return _Generator(customers, seed, as_of, months, usage_days, shares).build()
