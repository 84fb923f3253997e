"""Small helpers shared by the book's set-based queries (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.orm import Session

Bind = Connection | Session


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
