"""The plain limits our figures are held against, measured in the same run on the same data.

The machines these benchmarks run on differ by 2x from one day to the next, so each absolute
figure comes with `<metric>_vs_limit` = our time / the limit's time for the same work: the
bare statement or the bare bulk insert through the database driver itself (sqlite3 or
psycopg), with no riskdesk and no SQLAlchemy in between. A ratio is >= 1 and lower is better,
and it holds on a slow day as on a fast one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from riskdesk.book import facts as book_facts
from riskdesk.book import facts_sql


def figure(
    bench: str, metric: str, ours: float, limit: float, target: float, n: str, db: str, **extra
) -> dict[str, Any]:
    """The `<metric>_vs_limit` JSON line (DESIGN.md's format), with both times beside it."""
    return {
        "bench": bench,
        "metric": f"{metric}_vs_limit",
        "value": round(ours / limit, 2),
        "unit": "ratio",
        "target": target,
        "better": "lower",
        "n": n,
        "db": db,
        "ours_s": round(ours, 4),
        "limit_s": round(limit, 4),
        **extra,
    }


def best_of_pairs(
    ours: Callable[[], Any], limit: Callable[[], Any], repeat: int = 3
) -> tuple[float, float]:
    """Best times of `ours` and `limit`, after one warm-up each, run alternately so that a
    slow spell of a shared machine hits both."""
    ours()
    limit()
    best_ours = best_limit = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        ours()
        best_ours = min(best_ours, time.perf_counter() - started)
        started = time.perf_counter()
        limit()
        best_limit = min(best_limit, time.perf_counter() - started)
    return best_ours, best_limit


def facts_statement(engine: Engine, as_of: date) -> tuple[str, Sequence[Any] | dict[str, Any]]:
    """`customer_facts`' own statement for the whole book, as the driver receives it: the
    SQL text in the driver's parameter style and the parameters in storage form."""
    sql = facts_sql.facts_sql(engine.dialect.name, None, order_by="c.id", limit=False)
    clause = facts_sql.clause_for(sql, None)
    compiled = clause.compile(dialect=engine.dialect)
    raw = facts_sql.params_for(as_of, None)
    values: dict[str, Any] = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.bind_processor(engine.dialect)
        value = raw[bind.key]
        values[name] = processor(value) if processor else value
    if compiled.positiontup is not None:
        return compiled.string, tuple(values[name] for name in compiled.positiontup)
    return compiled.string, values


def bare_facts(engine: Engine, as_of: date) -> Callable[[], int]:
    """A callable running the facts statement through the driver, fetching every row (on
    PostgreSQL with the settings `customer_facts` runs it under); returns the row count."""
    sql, params = facts_statement(engine, as_of)
    raw = engine.raw_connection()
    driver = raw.driver_connection
    if engine.dialect.name == "postgresql":
        with driver.cursor() as cursor:
            for name, value in book_facts._PG_SETTINGS.items():
                cursor.execute(f"SET {name} = {value}")
        driver.commit()

    def run() -> int:
        cursor = driver.cursor()
        try:
            cursor.execute(sql, params)
            return len(cursor.fetchall())
        finally:
            cursor.close()
            driver.rollback()

    run.close = raw.close  # type: ignore[attr-defined]
    return run


def bare_reinsert(engine: Engine, table: str) -> tuple[int, float]:
    """Read every row of `table` (all columns but the id), empty the table, and time writing
    the same rows back through the driver alone: one `executemany` of a plain INSERT on SQLite,
    one `COPY ... FROM STDIN` on PostgreSQL, then commit. Returns (rows, seconds).

    The table keeps its indexes, so the limit pays for them as the importer did.
    """
    raw = engine.raw_connection()
    driver = raw.driver_connection
    postgres = engine.dialect.name == "postgresql"
    try:
        cursor = driver.cursor()
        cursor.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        columns = [d[0] for d in cursor.description if d[0] != "id"]
        names = ", ".join(columns)
        cursor.execute(f"SELECT {names} FROM {table} ORDER BY id")
        rows = cursor.fetchall()
        cursor.execute(f"TRUNCATE {table}" if postgres else f"DELETE FROM {table}")
        driver.commit()
        started = time.perf_counter()
        if postgres:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        driver.commit()
        seconds = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    return len(rows), seconds
