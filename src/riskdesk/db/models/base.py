"""Naming convention and the declarative base every table shares."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    pass


Base.metadata.naming_convention = NAMING


def sql_in(values: type[StrEnum]) -> str:
    """An SQL list of an enumeration's values, for CHECK constraints."""
    return "(" + ", ".join(f"'{v.value}'" for v in values) + ")"
