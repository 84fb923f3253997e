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
- unbilled_usage: rated usage in the customer's currency dated on or before as_of and after
  the period end of the customer's last invoice (all usage if no invoice has a period end);
- open_orders: orders still open, created on or before as_of;
- exposure = open_balance + unbilled_usage + open_orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BindParameter, Date, String, TextClause, bindparam, text

from riskdesk.book._sql import (
    Bind,
    descending,
    dialect_name,
    exact_sums,
    joined,
    safe_sum,
    split_row,
    sum_columns,
    sum_of,
)
from riskdesk.db.types import UTCDateTime
from riskdesk.gcpause import gc_paused
from riskdesk.money import Money, check_currency, minor_units


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


# Aggregates of open amounts per invoice, by how late the invoice is (`safe_sum`: plain, or
# split in units and remainders when a plain sum overflows). `due_on` is compared with
# boundary days computed in Python, which works on SQLite (ISO text) and PostgreSQL (date)
# alike and keeps date arithmetic out of the per-invoice work.
def _bucket_sums(split: bool) -> str:
    return ",\n    ".join(
        (
            safe_sum("@open", "open", split=split),
            safe_sum("@open", "overdue", split=split, when="due_on < :as_of AND NOT disputed"),
            safe_sum("@open", "current", split=split, when="due_on >= :as_of"),
            safe_sum("@open", "d1_30", split=split, when="due_on < :as_of AND due_on >= :d30"),
            safe_sum("@open", "d31_60", split=split, when="due_on < :d30 AND due_on >= :d60"),
            safe_sum("@open", "d61_90", split=split, when="due_on < :d60 AND due_on >= :d90"),
            safe_sum("@open", "d90p", split=split, when="due_on < :d90"),
        )
    )


def _ids_clause(column: str, customer_ids: Sequence[int] | None) -> str:
    return "" if customer_ids is None else f" AND {column} IN :ids"


def _not_settled_ctes(name: str, table: str, key: str, dated: str, columns: str, ids: str) -> str:
    """CTEs `{name}_later` and `{name}`: the rows of `table` (invoices or payments) dated by
    as_of and not settled by then, and per row what was applied after as_of.

    Read through the covering index on (settled_on, ...): one range for "never settled", one
    for "settled later". What was applied by as_of is the cached total less what came after,
    which is nothing when as_of is today. See `riskdesk.book.payments.refresh_settlement`.
    """
    # One row's allocations add up to at most its own amount, so this SUM cannot overflow.
    return f"""
        {name}_later AS (
            SELECT {key} AS id, SUM(amount_micros) AS later_micros
            FROM payment_allocations WHERE applied_on > :as_of
            GROUP BY {key}
        ),
        {name} AS (
            SELECT {columns} FROM {table}
            WHERE settled_on IS NULL AND {dated} <= :as_of{ids}
            UNION ALL
            SELECT {columns} FROM {table}
            WHERE settled_on > :as_of AND {dated} <= :as_of{ids}
        )"""


def _open_invoices_cte(dialect: str, customer_ids: Sequence[int] | None, split: bool) -> str:
    """CTE `inv`: every invoice issued by as_of with a non-zero open amount as of then."""
    unsettled = _not_settled_ctes(
        "unsettled",
        "invoices",
        "invoice_id",
        "issued_on",
        "id, customer_id, currency, due_on, disputed, total_micros, paid_micros",
        _ids_clause("customer_id", customer_ids),
    )
    return f"""{unsettled},
        inv AS (
            SELECT customer_id, currency, due_on, disputed,
                   {split_row("open_micros", "open", split)} FROM (
                SELECT u.customer_id, u.currency, u.due_on, u.disputed,
                       u.total_micros - u.paid_micros + COALESCE(l.later_micros, 0)
                           AS open_micros
                FROM unsettled u LEFT JOIN unsettled_later l ON l.id = u.id
            ) per_invoice
            WHERE open_micros <> 0
        )"""


def _credit_cte(dialect: str, customer_ids: Sequence[int] | None, split: bool) -> str:
    """CTE `credit`: per customer and currency, money received by as_of not applied by then."""
    unapplied = _not_settled_ctes(
        "unapplied",
        "payments",
        "payment_id",
        "received_on",
        "id, customer_id, currency, amount_micros, applied_micros",
        _ids_clause("customer_id", customer_ids),
    )
    return f"""{unapplied},
        credit AS (
            SELECT customer_id, currency, {safe_sum("left_micros", "credit", split=split)} FROM (
                SELECT p.customer_id, p.currency,
                       p.amount_micros - p.applied_micros + COALESCE(l.later_micros, 0)
                           AS left_micros
                FROM unapplied p LEFT JOIN unapplied_later l ON l.id = p.id
            ) per_payment
            WHERE left_micros <> 0
            GROUP BY customer_id, currency
        )"""


def _facts_sql(
    dialect: str,
    customer_ids: Sequence[int] | None,
    *,
    order_by: str,
    limit: bool,
    split: bool = False,
) -> str:
    if dialect == "postgresql":
        days = "(CAST(:as_of AS DATE) - ia.oldest_due)"
    else:
        days = "CAST(julianday(:as_of) - julianday(ia.oldest_due) AS INTEGER)"

    def big(sql: str) -> str:
        # PostgreSQL sums BIGINT into NUMERIC, which the driver would turn into Decimals.
        return f"CAST({sql} AS BIGINT)" if dialect == "postgresql" else sql

    def total(name: str) -> str:
        return ", ".join(big(column) for column in sum_columns(name, split=split))

    exposure = sum_of("ia.open", "ub.unbilled", "oo.orders", split=split)
    if order_by == _BY_EXPOSURE:
        order_by = f"{descending(exposure)}, c.id"
    return f"""
    WITH {_open_invoices_cte(dialect, customer_ids, split)},
    inv_agg AS (
        SELECT customer_id, currency,
               {_bucket_sums(split)},
               {safe_sum("@open", "disputed", split=split, when="disputed")},
               SUM(CASE WHEN open_micros > 0 THEN 1 ELSE 0 END) AS unpaid_count,
               MIN(CASE WHEN open_micros > 0 AND due_on < :as_of AND NOT disputed
                        THEN due_on END) AS oldest_due
        FROM inv
        GROUP BY customer_id, currency
    ),
    {_credit_cte(dialect, customer_ids, split)},
    usage_customers AS (
        SELECT DISTINCT customer_id FROM usage_records
        WHERE usage_date <= :as_of{_ids_clause("customer_id", customer_ids)}
    ),
    last_period AS (
        SELECT i.customer_id, MAX(i.period_end) AS last_end
        FROM invoices i
        WHERE i.customer_id IN (SELECT customer_id FROM usage_customers)
          AND i.issued_on <= :as_of AND i.period_end <= :as_of
        GROUP BY i.customer_id
    ),
    unbilled AS (
        SELECT u.customer_id, u.currency, {safe_sum("u.amount_micros", "unbilled", split=split)}
        FROM usage_records u LEFT JOIN last_period lp ON lp.customer_id = u.customer_id
        WHERE u.usage_date <= :as_of AND (lp.last_end IS NULL OR u.usage_date > lp.last_end)
              {_ids_clause("u.customer_id", customer_ids)}
        GROUP BY u.customer_id, u.currency
    ),
    open_orders AS (
        SELECT customer_id, currency, {safe_sum("amount_micros", "orders", split=split)}
        FROM orders
        WHERE status = 'open' AND created_at < :orders_before
              {_ids_clause("customer_id", customer_ids)}
        GROUP BY customer_id, currency
    )
    SELECT c.id, c.provider_customer_id, c.name, c.currency, c.credit_limit_micros,
           {total("ia.open")}, {total("ia.overdue")}, {total("ia.current")},
           {total("ia.d1_30")}, {total("ia.d31_60")}, {total("ia.d61_90")}, {total("ia.d90p")},
           {total("ia.disputed")}, {total("cr.credit")}, {total("ub.unbilled")},
           {total("oo.orders")}, {", ".join(big(x) for x in exposure)},
           COALESCE(ia.unpaid_count, 0) AS unpaid_count,
           CASE WHEN ia.oldest_due IS NULL THEN 0 ELSE {days} END AS days_past_due
    FROM customers c
    LEFT JOIN inv_agg ia ON ia.customer_id = c.id AND ia.currency = c.currency
    LEFT JOIN credit cr ON cr.customer_id = c.id AND cr.currency = c.currency
    LEFT JOIN unbilled ub ON ub.customer_id = c.id AND ub.currency = c.currency
    LEFT JOIN open_orders oo ON oo.customer_id = c.id AND oo.currency = c.currency
    WHERE 1 = 1{_ids_clause("c.id", customer_ids)}
    ORDER BY {order_by}
    {"LIMIT :limit" if limit else ""}
    """


_BY_EXPOSURE = "exposure DESC"


def _params(as_of: date, customer_ids: Sequence[int] | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "as_of": as_of,
        "d30": as_of - timedelta(days=30),
        "d60": as_of - timedelta(days=60),
        "d90": as_of - timedelta(days=90),
        "orders_before": datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC),
    }
    if customer_ids is not None:
        values["ids"] = list(customer_ids)
    return values


def _clause(sql: str, customer_ids: Sequence[int] | None) -> TextClause:
    binds: list[BindParameter[Any]] = [
        bindparam("as_of", type_=Date),
        bindparam("d30", type_=Date),
        bindparam("d60", type_=Date),
        bindparam("d90", type_=Date),
        bindparam("orders_before", type_=UTCDateTime),
    ]
    if customer_ids is not None:
        binds.append(bindparam("ids", expanding=True))
    clause = text(sql)
    # Only bind what the statement uses (the aging query has no orders).
    return clause.bindparams(*(b for b in binds if f":{b.key}" in sql))


class _MoneyOf(dict[int | None, Money]):
    """micros -> Money in one currency, memoised for one batch of rows.

    The facts build about a million Money values, many of them equal (zero, or an open balance
    that is also the exposure); a dict hit is far cheaper than building a Money, and Money is
    immutable, so equal amounts can share one object. `Money`'s constructor (check the code,
    quantize) is skipped for amounts that are already exact in the minor unit; finer amounts
    (rated usage) are rounded half to even, exactly as `Money` does.
    """

    __slots__ = ("currency", "places", "quantum", "step")

    def __init__(self, currency: str) -> None:
        super().__init__()
        zero = Money.zero(currency)
        self[None] = zero
        self[0] = zero
        self.currency = currency
        self.places = minor_units(currency)
        self.step = 10 ** (6 - self.places)  # micros per minor unit
        self.quantum = Decimal(1).scaleb(-self.places)

    def __missing__(self, micros: int) -> Money:
        whole, rest = divmod(micros, self.step)
        if rest:
            amount = Decimal(micros).scaleb(-6).quantize(self.quantum, rounding=ROUND_HALF_EVEN)
        else:
            amount = Decimal(whole).scaleb(-self.places)
        money = object.__new__(Money)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", self.currency)
        self[micros] = money
        return money


def _money_maker(currency: str) -> Callable[[int | None], Money]:
    """A fast micros -> Money for one currency (memoised; for one batch of rows)."""
    return _MoneyOf(currency).__getitem__


def _normalise_ids(customer_ids: Sequence[int] | None) -> list[int] | None:
    return None if customer_ids is None else sorted({int(c) for c in customer_ids})


def _rows_to_facts(rows: Sequence[Any], as_of: date, split: bool) -> list[CustomerFacts]:
    # Columns: five of the customer, twelve sums (twenty-four parts when split), the unpaid
    # count and the days past due.
    count_at = 29 if split else 17
    facts: list[CustomerFacts] = []
    append = facts.append
    new = object.__new__
    set_dict = object.__setattr__
    monies: dict[str, _MoneyOf] = {}
    # A hundred thousand customers make a million small objects; the cyclic garbage
    # collector would scan them over and over while they are built (none form cycles).
    with gc_paused():
        for r in rows:
            currency = r[3]
            money = monies.get(currency)
            if money is None:
                money = monies[currency] = _MoneyOf(currency)
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
        sql = _facts_sql(dialect, ids, order_by="c.id", limit=False, split=split)
        rows = _fetch(connection_or_session, _clause(sql, ids), _params(as_of, ids))
        return _rows_to_facts(rows, as_of, split)

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
    params = _params(as_of, None) | {"limit": int(limit)}
    if currency is not None:
        params["currency"] = check_currency(currency)

    def run(split: bool) -> list[CustomerFacts]:
        sql = _facts_sql(dialect, None, order_by=_BY_EXPOSURE, limit=True, split=split)
        if currency is None:
            clause = _clause(sql, None)
        else:
            sql = sql.replace("WHERE 1 = 1", "WHERE c.currency = :currency", 1)
            clause = _clause(sql, None).bindparams(bindparam("currency", type_=String))
        rows = _fetch(connection_or_session, clause, params)
        return _rows_to_facts(rows, as_of, split)

    return exact_sums(connection_or_session, run)


def aging_summary(connection_or_session: Bind, as_of: date) -> list[AgingRow]:
    """Open balances of the whole book per currency and aging bucket, as of `as_of`."""
    dialect = dialect_name(connection_or_session)

    def run(split: bool) -> list[AgingRow]:
        sql = f"""
        WITH {_open_invoices_cte(dialect, None, split)}
        SELECT currency,
               COUNT(DISTINCT CASE WHEN open_micros <> 0 THEN customer_id END) AS customers,
               {_bucket_sums(split)}
        FROM inv
        GROUP BY currency
        ORDER BY currency
        """
        rows = _fetch(connection_or_session, _clause(sql, None), _params(as_of, None))

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
