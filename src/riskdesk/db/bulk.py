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

from psycopg.errors import UniqueViolation
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
    # Columns of dates and moments repeat the same few values (a run's `now`, an import's
    # day): convert each distinct value once.
    converted: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return converted[value]
        except KeyError:
            out = converted[value] = _sqlite_value(value)
            return out
        except TypeError:  # unhashable: not a date
            return _sqlite_value(value)

    def rewrite(row: Sequence[Any]) -> tuple[Any, ...]:
        out = list(row)
        for i in positions:
            out[i] = convert(out[i])
        return tuple(out)

    return (rewrite(row) for row in rows)


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts_on: str | None = None,
    conflicts_rare: bool = False,
) -> int:
    """Insert `rows` (tuples in `columns` order) in the caller's transaction.

    With `ignore_conflicts_on` (a uniquely indexed column) rows whose key already exists are
    skipped, which is what makes re-importing a file harmless. Returns the rows inserted.

    `conflicts_rare`: on PostgreSQL, first COPY straight into the table inside a savepoint,
    and only if a key already exists go through the staging table (`INSERT ... ON CONFLICT DO
    NOTHING`); for writers whose keys are almost always new (a collections run's outbox rows),
    this writes each row once instead of twice.
    """
    if not rows:
        return 0
    names = ", ".join(columns)
    dbapi: Any = connection.connection.driver_connection
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
            if conflicts_rare:
                cursor.execute("SAVEPOINT riskdesk_bulk_copy")
                try:
                    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                except UniqueViolation:
                    cursor.execute("ROLLBACK TO SAVEPOINT riskdesk_bulk_copy")
                else:
                    cursor.execute("RELEASE SAVEPOINT riskdesk_bulk_copy")
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


def bulk_insert_columns(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
    *,
    ignore_conflicts_on: str | None = None,
) -> int:
    """`bulk_insert` of column lists (`values[k]` holds column `columns[k]` of every row).

    On SQLite the rows are zipped as the driver reads them, so only one row tuple exists at a
    time; values must already be in SQLite storage form (dates as ISO strings).
    """
    if not values or not len(values[0]):
        return 0
    if connection.dialect.name != "sqlite":
        rows = list(zip(*values, strict=True))
        return bulk_insert(
            connection, table, columns, rows, ignore_conflicts_on=ignore_conflicts_on
        )
    names = ", ".join(columns)
    verb = "INSERT OR IGNORE" if ignore_conflicts_on else "INSERT"
    marks = ", ".join("?" for _ in columns)
    dbapi: Any = connection.connection.driver_connection
    before = dbapi.total_changes
    cursor = dbapi.cursor()
    cursor.executemany(
        f"{verb} INTO {table.name} ({names}) VALUES ({marks})", zip(*values, strict=True)
    )
    cursor.close()
    return dbapi.total_changes - before


def bulk_insert_arrow(
    connection: Connection,
    table: Table,
    data: Any,
    *,
    ignore_conflicts_on: str | None = None,
) -> int:
    """`bulk_insert` for a pyarrow Table whose column names are `table`'s columns.

    On PostgreSQL the batch is written as one CSV payload by pyarrow's CSV writer and sent
    with one `COPY ... (FORMAT csv)` straight into the table: no Python object per value.
    Nulls are written as empty unquoted fields (NULL to COPY), strings are quoted when needed,
    dates as ISO, floats in shortest round-trip form. With `ignore_conflicts_on` the keys of
    `data` must be distinct: the keys already in the table are looked up first (one indexed
    `= ANY(array)` query) and those rows left out, which is much cheaper than staging the
    batch and `INSERT ... ON CONFLICT DO NOTHING`. A concurrent transaction inserting the
    same keys in between makes the COPY fail on the unique index (the import is rolled back
    and can simply be run again); it never duplicates a row. Elsewhere it falls back to
    `bulk_insert`.
    """
    if data.num_rows == 0:
        return 0
    columns = list(data.column_names)
    if connection.dialect.name != "postgresql":
        rows = list(zip(*(data.column(c).to_pylist() for c in columns), strict=True))
        return bulk_insert(
            connection, table, columns, rows, ignore_conflicts_on=ignore_conflicts_on
        )
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    dbapi: Any = connection.connection.driver_connection
    with dbapi.cursor() as cursor:
        if ignore_conflicts_on is not None:
            key = ignore_conflicts_on
            cursor.execute(
                f"SELECT {key} FROM {table.name} WHERE {key} = ANY(%s)",
                (data.column(key).to_pylist(),),
            )
            present = [k for (k,) in cursor.fetchall()]
            if present:
                keys = pa.array(present, data.schema.field(key).type)
                data = data.filter(pc.invert(pc.is_in(data.column(key), value_set=keys)))
                if data.num_rows == 0:
                    return 0
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(
            data,
            sink,
            write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
        )
        names = ", ".join(columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(memoryview(sink.getvalue()))
    return data.num_rows
