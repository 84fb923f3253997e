"""Customer facts: what each customer owes, how late, and its exposure, as of a day.

`customer_facts` is the hot path every decision reads (collections, credit, dashboards). It
is one set-based SQL query over the whole book -- common table expressions that aggregate
invoices (net of the allocations applied by then), payments, unbilled usage and open orders
per customer, joined to the customers -- never a query per customer.

Definitions, all as of the day `as_of` (inclusive):

- open_balance: over invoices issued on or before as_of, total minus the allocations applied
  on or before as_of;
- overdue_amount: the part of the open balance on undisputed invoices due before as_of (a
  disputed invoice does not count as overdue while the dispute is open);
- days_past_due: as_of minus the due day of the oldest undisputed overdue invoice still unpaid
  (0 if none);
- aging buckets by days past due: current (not yet due), 1-30, 31-60, 61-90, over 90, over
  every open invoice, disputed or not (the accounting view);
- disputed_amount: the open balance of invoices marked disputed (included in open_balance and
  the aging buckets, not in overdue_amount);
- unapplied_credit: money received on or before as_of not yet applied to an invoice by then,
  in the customer's currency (reported, not subtracted from the balance);
- unbilled_usage: rated usage dated on or before as_of and after the period end of the
  customer's last invoice (all usage if no invoice has a period end), in the customer's
  currency. Usage billed in another currency is converted (`_foreign_usage_sql`): with the
  row's own rate when the row's pricing currency is the customer's (Partner Center's
  PCToBCExchangeRate converts pricing into billing currency, so the amount is divided by it),
  else with the latest `exchange_rates` rate of the pair on or before the usage day. Usage
  with neither stays out of the sums and is listed in `unconverted_usage` (in its own
  currency), never dropped;
- open_orders: orders still open, created on or before as_of;
- exposure = open_balance + unbilled_usage + open_orders.

The statement's text is in `riskdesk.book.facts_sql`; the conversion of usage in another
currency, and where it is rounded, in `riskdesk.book.foreign_usage`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, TextClause, bindparam, text

from riskdesk.book._sql import Bind, dialect_name, exact_sums, joined
from riskdesk.book.facts_sql import (
    BY_EXPOSURE,
    bucket_sums,
    clause_for,
    facts_sql,
    open_invoices_cte,
    params_for,
)
from riskdesk.book.foreign_usage import FEW_IDS, foreign_usage, with_foreign_usage
from riskdesk.gcpause import gc_paused
from riskdesk.money import MicrosToMoney, Money, check_currency


@dataclass(frozen=True)
class CustomerFacts:
    """One customer's position as of a day. Amounts are Money in the customer's currency."""

    as_of: date
    customer_id: int
    provider_customer_id: str
    name: str
    currency: str
    credit_limit: Money | None
    open_balance: Money
    overdue_amount: Money
    days_past_due: int
    unpaid_invoice_count: int
    current: Money
    days_1_30: Money
    days_31_60: Money
    days_61_90: Money
    days_over_90: Money
    disputed_amount: Money
    unapplied_credit: Money
    unbilled_usage: Money
    open_orders: Money
    exposure: Money
    # Unbilled usage in another currency with no rate to convert it (per currency, as
    # billed): not in unbilled_usage or exposure, which understate the position by it.
    unconverted_usage: tuple[Money, ...] = ()

    @property
    def available_credit(self) -> Money | None:
        """Credit limit minus exposure (negative when over the limit); None without a limit."""
        return None if self.credit_limit is None else self.credit_limit - self.exposure

    @property
    def aging(self) -> dict[str, Money]:
        return {
            "current": self.current,
            "1-30": self.days_1_30,
            "31-60": self.days_31_60,
            "61-90": self.days_61_90,
            "90+": self.days_over_90,
        }


@dataclass(frozen=True)
class AgingRow:
    """Open balances of the whole book in one currency, by days past due."""

    currency: str
    customers: int
    current: Money
    days_1_30: Money
    days_31_60: Money
    days_61_90: Money
    days_over_90: Money
    total: Money

    @property
    def buckets(self) -> dict[str, Money]:
        return {
            "current": self.current,
            "1-30": self.days_1_30,
            "31-60": self.days_31_60,
            "61-90": self.days_61_90,
            "90+": self.days_over_90,
        }


BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def _money_maker(currency: str) -> Callable[[int | None], Money]:
    """A fast micros -> Money for one currency (memoised; for one batch of rows)."""
    return MicrosToMoney(currency).__getitem__


def _normalise_ids(customer_ids: Sequence[int] | None) -> list[int] | None:
    return None if customer_ids is None else sorted({int(c) for c in customer_ids})


# Columns of a facts row: five of the customer, twelve sums (twenty-four parts when split),
# the unpaid count, the days past due and the foreign-usage flag.
_FLAG, _FLAG_SPLIT = 19, 31


def _rows_to_facts(rows: Sequence[Any], as_of: date, split: bool) -> list[CustomerFacts]:
    count_at = 29 if split else 17
    facts: list[CustomerFacts] = []
    append = facts.append
    new = object.__new__
    set_dict = object.__setattr__
    monies: dict[str, MicrosToMoney] = {}
    # A hundred thousand customers make a million small objects; the cyclic garbage
    # collector would scan them over and over while they are built (none form cycles).
    with gc_paused():
        for r in rows:
            currency = r[3]
            money = monies.get(currency)
            if money is None:
                money = monies[currency] = MicrosToMoney(currency)
            (
                open_balance,
                overdue,
                current,
                d1_30,
                d31_60,
                d61_90,
                d90p,
                disputed,
                credit,
                unbilled,
                orders,
                exposure,
            ) = map(
                money.__getitem__,
                map(joined, r[5:29:2], r[6:29:2]) if split else r[5:17],
            )
            # The dataclass's own (frozen) __init__ sets twenty fields one by one through
            # object.__setattr__; filling the instance dict at once gives the same object.
            f = new(CustomerFacts)
            set_dict(
                f,
                "__dict__",
                {
                    "as_of": as_of,
                    "customer_id": r[0],
                    "provider_customer_id": r[1],
                    "name": r[2],
                    "currency": currency,
                    "credit_limit": None if r[4] is None else money[r[4]],
                    "open_balance": open_balance,
                    "overdue_amount": overdue,
                    "days_past_due": int(r[count_at + 1]),
                    "unpaid_invoice_count": int(r[count_at]),
                    "current": current,
                    "days_1_30": d1_30,
                    "days_31_60": d31_60,
                    "days_61_90": d61_90,
                    "days_over_90": d90p,
                    "disputed_amount": disputed,
                    "unapplied_credit": credit,
                    "unbilled_usage": unbilled,
                    "open_orders": orders,
                    "exposure": exposure,
                    "unconverted_usage": (),
                },
            )
            append(f)
    return facts


# PostgreSQL settings for the whole-book statements, for their duration only. On a small
# machine parallel workers each build the same million-row hash tables again (a two-core
# machine ends up slower, not faster), and JIT compilation of the ~300 expressions costs more
# than it saves on a query of about a second.
_PG_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}


def _fetch(bind: Bind, clause: TextClause, params: dict[str, Any]) -> Sequence[Any]:
    """All rows of a whole-book statement (on PostgreSQL with `_PG_SETTINGS` in force)."""
    if dialect_name(bind) != "postgresql":
        return bind.execute(clause, params).all()
    names = list(_PG_SETTINGS)
    read = ", ".join(f"current_setting('{name}')" for name in names)
    before = bind.execute(text(f"SELECT {read}")).one()
    # set_config(..., true) is SET LOCAL: it ends with the transaction at the latest, and is
    # put back below so the rest of the caller's transaction runs as before.
    change = ", ".join(f"set_config('{name}', :v{k}, true)" for k, name in enumerate(names))
    bind.execute(text(f"SELECT {change}"), {f"v{k}": _PG_SETTINGS[n] for k, n in enumerate(names)})
    rows = bind.execute(clause, params).all()
    bind.execute(text(f"SELECT {change}"), {f"v{k}": before[k] for k in range(len(names))})
    return rows


def customer_facts(
    connection_or_session: Bind, as_of: date, customer_ids: Sequence[int] | None = None
) -> list[CustomerFacts]:
    """Facts of every customer (or of `customer_ids`) as of `as_of`, ordered by customer id.

    One SQL statement; customers without invoices appear with zeros.
    """
    ids = _normalise_ids(customer_ids)
    if ids is not None and not ids:
        return []
    dialect = dialect_name(connection_or_session)

    def run(split: bool) -> list[CustomerFacts]:
        sql = facts_sql(dialect, ids, order_by="c.id", limit=False, split=split)
        rows = _fetch(connection_or_session, clause_for(sql, ids), params_for(as_of, ids))
        facts = _rows_to_facts(rows, as_of, split)
        # The statement flags customers with unbilled usage in another currency; only those
        # are read again, to convert it (the whole book at once when there are many).
        flag_at = _FLAG_SPLIT if split else _FLAG
        flagged = [r[0] for r in rows if r[flag_at]]
        if not flagged:
            return facts
        some = flagged if len(flagged) <= FEW_IDS else ids
        found = foreign_usage(connection_or_session, as_of, some)
        return with_foreign_usage(facts, rows, found, split)

    return exact_sums(connection_or_session, run)


def top_exposures(
    connection_or_session: Bind, as_of: date, limit: int = 10, *, currency: str | None = None
) -> list[CustomerFacts]:
    """The `limit` customers with the largest exposure as of `as_of` (largest first).

    Exposures in different currencies cannot be ranked against each other: with `currency`,
    only customers in that currency are ranked; without it, every customer is, by its amount
    as it is.
    """
    dialect = dialect_name(connection_or_session)
    # Converted usage is added in Python, after the SQL ranking: ask for as many more rows as
    # there are customers with foreign usage, and rank those customers with the rest. Any
    # other customer in the true top `limit` is among the SQL's top `limit + len(foreign)`.
    foreign = foreign_usage(connection_or_session, as_of, None)
    params = params_for(as_of, None) | {"limit": int(limit) + len(foreign)}
    if currency is not None:
        params["currency"] = check_currency(currency)

    def run(split: bool) -> list[CustomerFacts]:
        sql = facts_sql(dialect, None, order_by=BY_EXPOSURE, limit=True, split=split)
        if currency is None:
            clause = clause_for(sql, None)
        else:
            sql = sql.replace("WHERE 1 = 1", "WHERE c.currency = :currency", 1)
            clause = clause_for(sql, None).bindparams(bindparam("currency", type_=String))
        rows = _fetch(connection_or_session, clause, params)
        return _rows_to_facts(rows, as_of, split)

    ranked = exact_sums(connection_or_session, run)
    if not foreign:
        return ranked
    candidates = sorted({f.customer_id for f in ranked} | set(foreign))
    ranked = [
        f
        for f in customer_facts(connection_or_session, as_of, candidates)
        if currency is None or f.currency == params["currency"]
    ]
    ranked.sort(key=lambda f: (-f.exposure.amount, f.customer_id))
    return ranked[: int(limit)]


def aging_summary(connection_or_session: Bind, as_of: date) -> list[AgingRow]:
    """Open balances of the whole book per currency and aging bucket, as of `as_of`."""
    dialect = dialect_name(connection_or_session)

    def run(split: bool) -> list[AgingRow]:
        sql = f"""
        WITH {open_invoices_cte(dialect, None, split)}
        SELECT currency,
               COUNT(DISTINCT CASE WHEN open_micros <> 0 THEN customer_id END) AS customers,
               {bucket_sums(split)}
        FROM inv
        GROUP BY currency
        ORDER BY currency
        """
        rows = _fetch(connection_or_session, clause_for(sql, None), params_for(as_of, None))

        def sum_in(row: Any, name: str) -> int | None:
            if split:
                return joined(getattr(row, f"{name}_u"), getattr(row, f"{name}_r"))
            value = getattr(row, f"{name}_micros")
            return None if value is None else int(value)

        result = []
        for r in rows:
            m = _money_maker(r.currency)
            result.append(
                AgingRow(
                    currency=r.currency,
                    customers=int(r.customers),
                    current=m(sum_in(r, "current")),
                    days_1_30=m(sum_in(r, "d1_30")),
                    days_31_60=m(sum_in(r, "d31_60")),
                    days_61_90=m(sum_in(r, "d61_90")),
                    days_over_90=m(sum_in(r, "d90p")),
                    total=m(sum_in(r, "open")),
                )
            )
        return result

    return exact_sums(connection_or_session, run)
