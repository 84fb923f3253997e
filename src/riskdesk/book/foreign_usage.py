"""Unbilled usage billed in another currency than its customer's, converted for the facts.

The facts statement (`riskdesk.book.facts_sql`) sums usage in the customer's own currency and
flags customers with usage in another; for those, `foreign_usage` reads that usage grouped
per currency and rate, and `with_foreign_usage` adds the converted amounts to their facts.
Rounding: amounts are exact micros in SQL; a converted amount is exact (a Decimal product or
quotient) until it is added to the customer's exact sums, and each shown figure
(unbilled_usage, exposure) is rounded half to even to the currency's minor unit once, there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Date, bindparam, text

from riskdesk.book._sql import Bind, joined
from riskdesk.book.facts_sql import ids_clause
from riskdesk.money import Money

if TYPE_CHECKING:
    from riskdesk.book.facts import CustomerFacts

#: Where the unbilled usage and exposure sums sit in a facts row: after the five customer
#: columns, the 10th and 12th of the twelve sums (each two columns when split).
_UNBILLED, _EXPOSURE = 9, 11


def exact_unbilled_and_exposure(row: Any, split: bool) -> tuple[int, int]:
    """A facts row's exact unbilled usage and exposure, in micros."""
    if split:
        return (
            joined(row[5 + 2 * _UNBILLED], row[6 + 2 * _UNBILLED]) or 0,
            joined(row[5 + 2 * _EXPOSURE], row[6 + 2 * _EXPOSURE]) or 0,
        )
    return int(row[5 + _UNBILLED] or 0), int(row[5 + _EXPOSURE] or 0)


def foreign_usage_sql(customer_ids: Sequence[int] | None) -> str:
    """Unbilled usage billed in another currency than its customer's, summed per customer,
    billed currency and the rate that converts it: the row's own (`row_rate`, when the row's
    pricing currency is the customer's) or the rate table's latest for the pair on or before
    the usage day (`table_rate`); both NULL when none is known. Set-based: the usage rows
    are grouped per day and rate before the rate table is joined, and Python only multiplies
    the few group sums (`with_foreign_usage`). The invoices are read only for customers
    with such usage, so a book without any costs one pass over the usage rows."""
    return f"""
    WITH foreign_rows AS (
        SELECT u.customer_id, u.currency AS from_currency, c.currency AS to_currency,
               u.usage_date, u.amount_micros,
               CASE WHEN u.pricing_currency = c.currency THEN u.pc_to_bc_rate END AS row_rate
        FROM usage_records u
        JOIN customers c ON c.id = u.customer_id
        WHERE u.currency <> c.currency AND u.usage_date <= :as_of
              {ids_clause("u.customer_id", customer_ids)}
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
FEW_IDS = 5_000

# Enough digits that a quotient by a row's rate is exact far below any minor unit.
_EXACT = Context(prec=60)


def foreign_usage(
    bind: Bind, as_of: date, customer_ids: Sequence[int] | None
) -> dict[int, tuple[Decimal, dict[str, int]]]:
    """customer id -> (converted amount in its currency, exact; micros per currency that no
    rate converts), for customers with unbilled usage in another currency."""
    sql = foreign_usage_sql(customer_ids)
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


def with_foreign_usage(
    facts: list[CustomerFacts],
    rows: Sequence[Any],
    foreign: dict[int, tuple[Decimal, dict[str, int]]],
    split: bool,
) -> list[CustomerFacts]:
    """`facts` with converted usage added to unbilled_usage and exposure (each rounded half
    to even once, from the exact same-currency sum plus the exact converted amount), and the
    usage no rate converts listed in unconverted_usage."""
    if not foreign:
        return facts
    exact = {r[0]: exact_unbilled_and_exposure(r, split) for r in rows if r[0] in foreign}
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
