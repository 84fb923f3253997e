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

Rounding: amounts are exact micros in SQL; a converted amount is exact (a Decimal product or
quotient) until it is added to the customer's exact sums, and each shown figure
(unbilled_usage, exposure) is rounded half to even to the currency's minor unit once, there
(`_with_foreign_usage`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from sqlalchemy import BindParameter, Date, String, TextClause, bindparam, text

from riskdesk.book._sql import Bind, dialect_name
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


# Aggregates of open amounts per invoice, by how late the invoice is. `due_on` is compared with
# boundary days computed in Python, which works on SQLite (ISO text) and PostgreSQL (date)
# alike and keeps date arithmetic out of the per-invoice work.
_BUCKET_SUMS = """
    SUM(open_micros) AS open_micros,
    SUM(CASE WHEN due_on < :as_of AND NOT disputed THEN open_micros ELSE 0 END)
        AS overdue_micros,
    SUM(CASE WHEN due_on >= :as_of THEN open_micros ELSE 0 END) AS current_micros,
    SUM(CASE WHEN due_on < :as_of AND due_on >= :d30 THEN open_micros ELSE 0 END) AS d1_30,
    SUM(CASE WHEN due_on < :d30 AND due_on >= :d60 THEN open_micros ELSE 0 END) AS d31_60,
    SUM(CASE WHEN due_on < :d60 AND due_on >= :d90 THEN open_micros ELSE 0 END) AS d61_90,
    SUM(CASE WHEN due_on < :d90 THEN open_micros ELSE 0 END) AS d90p
"""


def _ids_clause(column: str, customer_ids: Sequence[int] | None) -> str:
    return "" if customer_ids is None else f" AND {column} IN :ids"


def _not_settled_ctes(name: str, table: str, key: str, dated: str, columns: str, ids: str) -> str:
    """CTEs `{name}_later` and `{name}`: the rows of `table` (invoices or payments) dated by
    as_of and not settled by then, and per row what was applied after as_of.

    Read through the covering index on (settled_on, ...): one range for "never settled", one
    for "settled later". What was applied by as_of is the cached total less what came after,
    which is nothing when as_of is today. See `riskdesk.book.payments.refresh_settlement`.
    """
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


def _open_invoices_cte(dialect: str, customer_ids: Sequence[int] | None) -> str:
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
            SELECT customer_id, currency, due_on, disputed, open_micros FROM (
                SELECT u.customer_id, u.currency, u.due_on, u.disputed,
                       u.total_micros - u.paid_micros + COALESCE(l.later_micros, 0)
                           AS open_micros
                FROM unsettled u LEFT JOIN unsettled_later l ON l.id = u.id
            ) per_invoice
            WHERE open_micros <> 0
        )"""


def _credit_cte(dialect: str, customer_ids: Sequence[int] | None) -> str:
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
            SELECT customer_id, currency, SUM(left_micros) AS credit_micros FROM (
                SELECT p.customer_id, p.currency,
                       p.amount_micros - p.applied_micros + COALESCE(l.later_micros, 0)
                           AS left_micros
                FROM unapplied p LEFT JOIN unapplied_later l ON l.id = p.id
            ) per_payment
            WHERE left_micros <> 0
            GROUP BY customer_id, currency
        )"""


def _facts_sql(
    dialect: str, customer_ids: Sequence[int] | None, *, order_by: str, limit: bool
) -> str:
    if dialect == "postgresql":
        days = "(CAST(:as_of AS DATE) - ia.oldest_due)"
    else:
        days = "CAST(julianday(:as_of) - julianday(ia.oldest_due) AS INTEGER)"

    def big(sql: str) -> str:
        # PostgreSQL sums BIGINT into NUMERIC, which the driver would turn into Decimals.
        return f"CAST({sql} AS BIGINT)" if dialect == "postgresql" else sql

    exposure = (
        "COALESCE(ia.open_micros, 0) + COALESCE(ub.unbilled_micros, 0)"
        " + COALESCE(oo.orders_micros, 0)"
    )
    return f"""
    WITH {_open_invoices_cte(dialect, customer_ids)},
    inv_agg AS (
        SELECT customer_id, currency,
               {_BUCKET_SUMS},
               SUM(CASE WHEN disputed THEN open_micros ELSE 0 END) AS disputed_micros,
               SUM(CASE WHEN open_micros > 0 THEN 1 ELSE 0 END) AS unpaid_count,
               MIN(CASE WHEN open_micros > 0 AND due_on < :as_of AND NOT disputed
                        THEN due_on END) AS oldest_due
        FROM inv
        GROUP BY customer_id, currency
    ),
    {_credit_cte(dialect, customer_ids)},
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
        SELECT u.customer_id, u.currency, SUM(u.amount_micros) AS unbilled_micros
        FROM usage_records u LEFT JOIN last_period lp ON lp.customer_id = u.customer_id
        WHERE u.usage_date <= :as_of AND (lp.last_end IS NULL OR u.usage_date > lp.last_end)
              {_ids_clause("u.customer_id", customer_ids)}
        GROUP BY u.customer_id, u.currency
    ),
    foreign_unbilled AS (
        SELECT ub.customer_id FROM unbilled ub JOIN customers c ON c.id = ub.customer_id
        WHERE ub.currency <> c.currency
        GROUP BY ub.customer_id
    ),
    open_orders AS (
        SELECT customer_id, currency, SUM(amount_micros) AS orders_micros
        FROM orders
        WHERE status = 'open' AND created_at < :orders_before
              {_ids_clause("customer_id", customer_ids)}
        GROUP BY customer_id, currency
    )
    SELECT c.id, c.provider_customer_id, c.name, c.currency, c.credit_limit_micros,
           {big("ia.open_micros")}, {big("ia.overdue_micros")}, {big("ia.current_micros")},
           {big("ia.d1_30")}, {big("ia.d31_60")}, {big("ia.d61_90")}, {big("ia.d90p")},
           {big("ia.disputed_micros")}, {big("cr.credit_micros")},
           {big("ub.unbilled_micros")}, {big("oo.orders_micros")},
           {big(exposure)} AS exposure_micros,
           COALESCE(ia.unpaid_count, 0) AS unpaid_count,
           CASE WHEN ia.oldest_due IS NULL THEN 0 ELSE {days} END AS days_past_due,
           CASE WHEN fu.customer_id IS NULL THEN 0 ELSE 1 END AS foreign_usage
    FROM customers c
    LEFT JOIN inv_agg ia ON ia.customer_id = c.id AND ia.currency = c.currency
    LEFT JOIN credit cr ON cr.customer_id = c.id AND cr.currency = c.currency
    LEFT JOIN unbilled ub ON ub.customer_id = c.id AND ub.currency = c.currency
    LEFT JOIN open_orders oo ON oo.customer_id = c.id AND oo.currency = c.currency
    LEFT JOIN foreign_unbilled fu ON fu.customer_id = c.id
    WHERE 1 = 1{_ids_clause("c.id", customer_ids)}
    ORDER BY {order_by}
    {"LIMIT :limit" if limit else ""}
    """


def _foreign_usage_sql(customer_ids: Sequence[int] | None) -> str:
    """Unbilled usage billed in another currency than its customer's, summed per customer,
    billed currency and the rate that converts it: the row's own (`row_rate`, when the row's
    pricing currency is the customer's) or the rate table's latest for the pair on or before
    the usage day (`table_rate`); both NULL when none is known. Set-based: the usage rows
    are grouped per day and rate before the rate table is joined, and Python only multiplies
    the few group sums (`_with_foreign_usage`). The invoices are read only for customers
    with such usage, so a book without any costs one pass over the usage rows."""
    return f"""
    WITH foreign_rows AS (
        SELECT u.customer_id, u.currency AS from_currency, c.currency AS to_currency,
               u.usage_date, u.amount_micros,
               CASE WHEN u.pricing_currency = c.currency THEN u.pc_to_bc_rate END AS row_rate
        FROM usage_records u
        JOIN customers c ON c.id = u.customer_id
        WHERE u.currency <> c.currency AND u.usage_date <= :as_of
              {_ids_clause("u.customer_id", customer_ids)}
    ),
    last_period AS (
        SELECT i.customer_id, MAX(i.period_end) AS last_end
        FROM invoices i
        WHERE i.customer_id IN (SELECT customer_id FROM foreign_rows)
          AND i.issued_on <= :as_of AND i.period_end <= :as_of
        GROUP BY i.customer_id
    ),
    foreign_usage AS (
        SELECT f.customer_id, f.from_currency, f.to_currency, f.usage_date, f.row_rate,
               SUM(f.amount_micros) AS micros
        FROM foreign_rows f
        LEFT JOIN last_period lp ON lp.customer_id = f.customer_id
        WHERE lp.last_end IS NULL OR f.usage_date > lp.last_end
        GROUP BY f.customer_id, f.from_currency, f.to_currency, f.usage_date, f.row_rate
    )
    SELECT f.customer_id, f.from_currency, f.row_rate, r.rate AS table_rate,
           SUM(f.micros) AS micros
    FROM foreign_usage f
    LEFT JOIN exchange_rates r
           ON f.row_rate IS NULL
          AND r.from_currency = f.from_currency AND r.to_currency = f.to_currency
          AND r.day = (SELECT MAX(r2.day) FROM exchange_rates r2
                       WHERE r2.from_currency = f.from_currency
                         AND r2.to_currency = f.to_currency AND r2.day <= f.usage_date)
    GROUP BY f.customer_id, f.from_currency, f.row_rate, r.rate
    ORDER BY f.customer_id, f.from_currency
    """


# At most this many customer ids go into one `IN` list (SQLite allows 32,766 parameters).
_FEW = 5_000

# Enough digits that a quotient by a row's rate is exact far below any minor unit.
_EXACT = Context(prec=60)


def _foreign_usage(
    bind: Bind, as_of: date, customer_ids: Sequence[int] | None
) -> dict[int, tuple[Decimal, dict[str, int]]]:
    """customer id -> (converted amount in its currency, exact; micros per currency that no
    rate converts), for customers with unbilled usage in another currency."""
    sql = _foreign_usage_sql(customer_ids)
    binds: list[BindParameter[Any]] = [bindparam("as_of", type_=Date)]
    if customer_ids is not None:
        binds.append(bindparam("ids", expanding=True))
    params: dict[str, Any] = {"as_of": as_of}
    if customer_ids is not None:
        params["ids"] = list(customer_ids)
    out: dict[int, tuple[Decimal, dict[str, int]]] = {}
    for customer_id, from_currency, row_rate, table_rate, micros in bind.execute(
        text(sql).bindparams(*binds), params
    ):
        converted, unconverted = out.get(customer_id, (Decimal(0), {}))
        amount = Decimal(int(micros)).scaleb(-6)
        if row_rate is not None:
            converted = _EXACT.add(converted, _EXACT.divide(amount, Decimal(row_rate)))
        elif table_rate is not None:
            converted = _EXACT.add(converted, _EXACT.multiply(amount, Decimal(table_rate)))
        else:
            unconverted[from_currency] = unconverted.get(from_currency, 0) + int(micros)
        out[customer_id] = (converted, unconverted)
    return out


def _with_foreign_usage(
    facts: list[CustomerFacts],
    rows: Sequence[Any],
    foreign: dict[int, tuple[Decimal, dict[str, int]]],
) -> list[CustomerFacts]:
    """`facts` with converted usage added to unbilled_usage and exposure (each rounded half
    to even once, from the exact same-currency sum plus the exact converted amount), and the
    usage no rate converts listed in unconverted_usage."""
    if not foreign:
        return facts
    exact = {r[0]: (r[14] or 0, r[16] or 0) for r in rows if r[0] in foreign}
    result = []
    for f in facts:
        found = foreign.get(f.customer_id)
        if found is None:
            result.append(f)
            continue
        converted, unconverted = found
        unbilled_micros, exposure_micros = exact[f.customer_id]
        result.append(
            replace(
                f,
                unbilled_usage=Money(Decimal(unbilled_micros).scaleb(-6) + converted, f.currency),
                exposure=Money(Decimal(exposure_micros).scaleb(-6) + converted, f.currency),
                unconverted_usage=tuple(
                    Money(Decimal(m).scaleb(-6), c) for c, m in sorted(unconverted.items())
                ),
            )
        )
    return result


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


def _rows_to_facts(rows: Sequence[Any], as_of: date) -> list[CustomerFacts]:
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
            ) = map(money.__getitem__, r[5:17])
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
                    "days_past_due": int(r[18]),
                    "unpaid_invoice_count": int(r[17]),
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
    sql = _facts_sql(dialect_name(connection_or_session), ids, order_by="c.id", limit=False)
    rows = _fetch(connection_or_session, _clause(sql, ids), _params(as_of, ids))
    facts = _rows_to_facts(rows, as_of)
    # The statement flags customers with unbilled usage in another currency; only those
    # are read again, to convert it (the whole book at once when there are many).
    flagged = [r[0] for r in rows if r[19]]
    if not flagged:
        return facts
    some = flagged if len(flagged) <= _FEW else ids
    return _with_foreign_usage(facts, rows, _foreign_usage(connection_or_session, as_of, some))


def top_exposures(
    connection_or_session: Bind, as_of: date, limit: int = 10, *, currency: str | None = None
) -> list[CustomerFacts]:
    """The `limit` customers with the largest exposure as of `as_of` (largest first).

    Exposures in different currencies cannot be ranked against each other: with `currency`,
    only customers in that currency are ranked; without it, every customer is, by its amount
    as it is.
    """
    dialect = dialect_name(connection_or_session)
    sql = _facts_sql(dialect, None, order_by="exposure_micros DESC, c.id", limit=True)
    # Converted usage is added in Python, after the SQL ranking: ask for as many more rows as
    # there are customers with foreign usage, and rank those customers with the rest. Any
    # other customer in the true top `limit` is among the SQL's top `limit + len(foreign)`.
    foreign = _foreign_usage(connection_or_session, as_of, None)
    params = _params(as_of, None) | {"limit": int(limit) + len(foreign)}
    if currency is None:
        clause = _clause(sql, None)
    else:
        sql = sql.replace("WHERE 1 = 1", "WHERE c.currency = :currency", 1)
        clause = _clause(sql, None).bindparams(bindparam("currency", type_=String))
        params["currency"] = check_currency(currency)
    rows = _fetch(connection_or_session, clause, params)
    if not foreign:
        return _rows_to_facts(rows, as_of)
    candidates = sorted({r[0] for r in rows} | set(foreign))
    ranked = [
        f
        for f in customer_facts(connection_or_session, as_of, candidates)
        if currency is None or f.currency == params["currency"]
    ]
    ranked.sort(key=lambda f: (-f.exposure.amount, f.customer_id))
    return ranked[: int(limit)]


def aging_summary(connection_or_session: Bind, as_of: date) -> list[AgingRow]:
    """Open balances of the whole book per currency and aging bucket, as of `as_of`."""
    sql = f"""
    WITH {_open_invoices_cte(dialect_name(connection_or_session), None)}
    SELECT currency,
           COUNT(DISTINCT CASE WHEN open_micros <> 0 THEN customer_id END) AS customers,
           {_BUCKET_SUMS}
    FROM inv
    GROUP BY currency
    ORDER BY currency
    """
    rows = _fetch(connection_or_session, _clause(sql, None), _params(as_of, None))
    result = []
    for r in rows:
        m = _money_maker(r.currency)
        result.append(
            AgingRow(
                currency=r.currency,
                customers=int(r.customers),
                current=m(r.current_micros),
                days_1_30=m(r.d1_30),
                days_31_60=m(r.d31_60),
                days_61_90=m(r.d61_90),
                days_over_90=m(r.d90p),
                total=m(r.open_micros),
            )
        )
    return result
