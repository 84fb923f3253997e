"""Fast bulk writes for the hot paths (imports, demo book, benchmarks).

The ORM costs tens of microseconds a row; a million usage rows need the driver's own bulk
paths: `executemany` on SQLite and `COPY` on PostgreSQL. Values must already be in storage
form: money as integer micros, dates as `date` (or ISO strings), moments as aware UTC
datetimes, JSON as text. SQLite stores dates and times as the same strings SQLAlchemy writes,
so rows written here read back through the models unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _needs_conversion(rows: Sequence[Sequence[Any]]) -> list[int]:
    if not rows:
        return []
    return [i for i, v in enumerate(rows[0]) if isinstance(v, date)]


def _sqlite_rows(rows: Sequence[Sequence[Any]]) -> Iterable[Sequence[Any]]:
    positions = _needs_conversion(rows)
    if not positions:
        return rows
    return (
        tuple(_sqlite_value(v) if i in positions else v for i, v in enumerate(row)) for row in rows
    )


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts_on: str | None = None,
) -> int:
    """Insert `rows` (tuples in `columns` order) in the caller's transaction.

    With `ignore_conflicts_on` (a uniquely indexed column) rows whose key already exists are
    skipped, which is what makes re-importing a file harmless. Returns the rows inserted.
    """
    if not rows:
        return 0
    names = ", ".join(columns)
    dbapi = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        verb = "INSERT OR IGNORE" if ignore_conflicts_on else "INSERT"
        marks = ", ".join("?" for _ in columns)
        before = dbapi.total_changes
        cursor = dbapi.cursor()
        cursor.executemany(
            f"{verb} INTO {table.name} ({names}) VALUES ({marks})", _sqlite_rows(rows)
        )
        cursor.close()
        return dbapi.total_changes - before
    if connection.dialect.name == "postgresql":
        with dbapi.cursor() as cursor:
            if ignore_conflicts_on is None:
                with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return len(rows)
            staging = f"_stage_{table.name}"
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
                f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cursor.execute(f"TRUNCATE {staging}")
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
                f"ON CONFLICT ({ignore_conflicts_on}) DO NOTHING"
            )
            return cursor.rowcount
    raise NotImplementedError(f"bulk insert on {connection.dialect.name}")
