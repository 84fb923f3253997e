"""Small helpers shared by the book's set-based queries (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Bind = Connection | Session
T = TypeVar("T")


def dialect_name(bind: Bind) -> str:
    """'sqlite' or 'postgresql' for a connection or a session."""
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def query(sql: str, *expanding: str) -> TextClause:
    """A text query whose named `expanding` parameters take a list (`x IN :ids`)."""
    clause = text(sql)
    if expanding:
        clause = clause.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    return clause


def ids_filter(column: str, ids: Sequence[int] | None, name: str = "ids") -> str:
    """`AND column IN :ids` when `ids` is given, else nothing."""
    return "" if ids is None else f" AND {column} IN :{name}"


def params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def least(a: str, b: str) -> str:
    return f"(CASE WHEN {a} <= {b} THEN {a} ELSE {b} END)"


def greatest(a: str, b: str) -> str:
    return f"(CASE WHEN {a} >= {b} THEN {a} ELSE {b} END)"


# Exact sums of integer micros that cannot overflow, on SQLite and PostgreSQL alike.
#
# One stored amount is below 10^18 micros (`riskdesk.money.MAX_AMOUNT`), but a customer's or
# the book's sum is not: SQLite's integer SUM raises "integer overflow" past 2^63 and
# PostgreSQL's SUM(bigint) is NUMERIC, whose cast back to BIGINT raises "bigint out of
# range". A split sum takes two parts, the whole units (`micros / 10^6`, truncated towards
# zero on both databases) and the remainders (`micros % 10^6`, with the sign of the micros on
# both), each far inside BIGINT -- the units of 9.2 million maximal amounts, the remainders of
# 9.2 trillion rows -- and `joined` adds them up in Python, where integers do not overflow.
#
# Splitting costs a quarter more SQL and Python on the every-customer facts, for sums that
# almost never come near 2^63 micros (9.2 trillion units). So a statement is written both
# ways (`split=False`: one plain SUM per amount) and `exact_sums` runs the plain one and, only
# if a sum overflowed, the split one: the result is exact either way, and the hot path is
# as fast as before.

UNIT = 1_000_000


def units(micros: str) -> str:
    """The whole currency units of the micros expression `micros` (towards zero).

    The cast makes it integer division on PostgreSQL also when `micros` is NUMERIC (it is
    when it adds a SUM, as one invoice's open amount does); one row's value fits BIGINT.
    """
    return f"(CAST({micros} AS BIGINT) / {UNIT})"


def rest(micros: str) -> str:
    """The micros of `micros` below one unit (same sign); units(m) * 10^6 + rest(m) == m."""
    return f"(CAST({micros} AS BIGINT) % {UNIT})"


def split_row(micros: str, stem: str, split: bool) -> str:
    """Per-row columns for `safe_sum("@stem", ...)`: `micros AS {stem}_micros`, and when
    split its `{stem}_u` / `{stem}_r` parts, so each row is split only once."""
    if not split:
        return f"{micros} AS {stem}_micros"
    return f"{micros} AS {stem}_micros, {units(micros)} AS {stem}_u, {rest(micros)} AS {stem}_r"


def safe_sum(micros: str, name: str, *, split: bool, when: str | None = None) -> str:
    """The SUM of the micros expression `micros` (over the rows where `when` holds) as column
    `{name}_micros`, or when `split` as the two columns `{name}_u` and `{name}_r` that `joined` adds
    up exactly. `"@stem"` names the per-row columns of `split_row`."""
    if micros.startswith("@"):
        stem = micros[1:]
        parts = [f"{stem}_u", f"{stem}_r"] if split else [f"{stem}_micros"]
    else:
        parts = [units(micros), rest(micros)] if split else [micros]
    if when is not None:
        parts = [f"CASE WHEN {when} THEN {p} ELSE 0 END" for p in parts]
    if not split:
        return f"SUM({parts[0]}) AS {name}_micros"
    return f"SUM({parts[0]}) AS {name}_u, SUM({parts[1]}) AS {name}_r"


def sum_columns(name: str, *, split: bool) -> list[str]:
    """The column(s) a `safe_sum` named `name` gives: [name_micros] or [name_u, name_r]."""
    return [f"{name}_u", f"{name}_r"] if split else [f"{name}_micros"]


def sum_of(*names: str, split: bool) -> list[str]:
    """SQL for the sum of several `safe_sum` results (NULL from an outer join as 0), as
    `sum_columns` gives them."""
    return [
        "(" + " + ".join(f"COALESCE({n}{part}, 0)" for n in names) + ")"
        for part in (["_u", "_r"] if split else ["_micros"])
    ]


def joined(units_sum: Any, rest_sum: Any) -> int:
    """The exact micros of a split sum (a NULL part, from an outer join, is zero)."""
    return int(units_sum or 0) * UNIT + int(rest_sum or 0)


def descending(columns: list[str]) -> str:
    """ORDER BY terms that put sums (as `sum_of` gives them) largest first, exactly: a split
    sum by its units carried from the remainders (floor division), then the remainder left
    in [0, 10^6)."""
    if len(columns) == 1:
        return f"{columns[0]} DESC"
    units_sum, rest_sum = columns
    low = f"((({rest_sum}) % {UNIT} + {UNIT}) % {UNIT})"
    return f"(({units_sum}) + (({rest_sum}) - {low}) / {UNIT}) DESC, {low} DESC"


def _overflowed(exc: DBAPIError) -> bool:
    """Whether a statement failed because an integer sum left BIGINT."""
    if getattr(exc.orig, "sqlstate", None) == "22003":  # PostgreSQL numeric_value_out_of_range
        return True
    return "integer overflow" in str(exc.orig)  # SQLite's SUM


def exact_sums(bind: Bind, run: Callable[[bool], T]) -> T:
    """`run(False)` (plain SUMs), or `run(True)` (split sums) if a plain sum overflowed.

    On PostgreSQL the plain attempt runs in a savepoint, so that its failure leaves the
    caller's transaction usable; SQLite undoes only the failed statement anyway.
    """
    if dialect_name(bind) != "postgresql":
        try:
            return run(False)
        except DBAPIError as exc:
            if not _overflowed(exc):
                raise
        return run(True)
    try:
        with bind.begin_nested():
            return run(False)
    except DBAPIError as exc:
        if not _overflowed(exc):
            raise
    return run(True)
