"""The text of the customer facts statement (`riskdesk.book.facts`), and its parameters.

One statement over the whole book (or some customers): common table expressions aggregate
invoices net of the allocations applied by the day, payments, unbilled usage and open orders
per customer, joined to the customers. With `split` every sum is two columns, whole units and
remainder, so that no sum can overflow a BIGINT (`riskdesk.book._sql.exact_sums` asks for it
only when a plain sum did). The statement ends with the unpaid invoice count, the days past
due and a flag for customers with unbilled usage in another currency than theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import BindParameter, Date, TextClause, bindparam, text

from riskdesk.book._sql import descending, safe_sum, split_row, sum_columns, sum_of
from riskdesk.db.types import UTCDateTime

#: Order by exposure, largest first (`facts_sql` spells it out for the split sums too).
BY_EXPOSURE = "exposure DESC"


# Aggregates of open amounts per invoice, by how late the invoice is (`safe_sum`: plain, or
# split in units and remainders when a plain sum overflows). `due_on` is compared with
# boundary days computed in Python, which works on SQLite (ISO text) and PostgreSQL (date)
# alike and keeps date arithmetic out of the per-invoice work.
def bucket_sums(split: bool) -> str:
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


def ids_clause(column: str, customer_ids: Sequence[int] | None) -> str:
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


def open_invoices_cte(dialect: str, customer_ids: Sequence[int] | None, split: bool) -> str:
    """CTE `inv`: every invoice issued by as_of with a non-zero open amount as of then."""
    unsettled = _not_settled_ctes(
        "unsettled",
        "invoices",
        "invoice_id",
        "issued_on",
        "id, customer_id, currency, due_on, disputed, total_micros, paid_micros",
        ids_clause("customer_id", customer_ids),
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
        ids_clause("customer_id", customer_ids),
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


def facts_sql(
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
    if order_by == BY_EXPOSURE:
        order_by = f"{descending(exposure)}, c.id"
    return f"""
    WITH {open_invoices_cte(dialect, customer_ids, split)},
    inv_agg AS (
        SELECT customer_id, currency,
               {bucket_sums(split)},
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
        WHERE usage_date <= :as_of{ids_clause("customer_id", customer_ids)}
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
              {ids_clause("u.customer_id", customer_ids)}
        GROUP BY u.customer_id, u.currency
    ),
    open_orders AS (
        SELECT customer_id, currency, {safe_sum("amount_micros", "orders", split=split)}
        FROM orders
        WHERE status = 'open' AND created_at < :orders_before
              {ids_clause("customer_id", customer_ids)}
        GROUP BY customer_id, currency
    ),
    foreign_unbilled AS (
        SELECT ub.customer_id FROM unbilled ub JOIN customers c ON c.id = ub.customer_id
        WHERE ub.currency <> c.currency
        GROUP BY ub.customer_id
    )
    SELECT c.id, c.provider_customer_id, c.name, c.currency, c.credit_limit_micros,
           {total("ia.open")}, {total("ia.overdue")}, {total("ia.current")},
           {total("ia.d1_30")}, {total("ia.d31_60")}, {total("ia.d61_90")}, {total("ia.d90p")},
           {total("ia.disputed")}, {total("cr.credit")}, {total("ub.unbilled")},
           {total("oo.orders")}, {", ".join(big(x) for x in exposure)},
           COALESCE(ia.unpaid_count, 0) AS unpaid_count,
           CASE WHEN ia.oldest_due IS NULL THEN 0 ELSE {days} END AS days_past_due,
           CASE WHEN fu.customer_id IS NULL THEN 0 ELSE 1 END AS foreign_usage
    FROM customers c
    LEFT JOIN inv_agg ia ON ia.customer_id = c.id AND ia.currency = c.currency
    LEFT JOIN credit cr ON cr.customer_id = c.id AND cr.currency = c.currency
    LEFT JOIN unbilled ub ON ub.customer_id = c.id AND ub.currency = c.currency
    LEFT JOIN open_orders oo ON oo.customer_id = c.id AND oo.currency = c.currency
    LEFT JOIN foreign_unbilled fu ON fu.customer_id = c.id
    WHERE 1 = 1{ids_clause("c.id", customer_ids)}
    ORDER BY {order_by}
    {"LIMIT :limit" if limit else ""}
    """


def params_for(as_of: date, customer_ids: Sequence[int] | None) -> dict[str, Any]:
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


def clause_for(sql: str, customer_ids: Sequence[int] | None) -> TextClause:
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
