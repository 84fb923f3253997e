"""Column types that keep money exact and times in UTC on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator

from riskdesk.money import MAX_MICROS, decimal_to_micros, micros_to_decimal, to_decimal


class Micros(TypeDecorator[Decimal]):
    """A Decimal amount stored as whole millionths (BIGINT).

    SQLite has no exact decimal type (NUMERIC becomes a float there), so money is kept as
    integers: exact everywhere, and SUM over a million rows stays integer arithmetic. Raw SQL
    sees the `*_micros` column; Python sees a Decimal in currency units.

    An amount of 10^12 units or more is refused here as well (`riskdesk.money.MAX_AMOUNT`):
    the entry points refuse it first with an error naming where it came from; this is the
    last line, so that nothing stored can make the book's arithmetic overflow.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        micros = decimal_to_micros(to_decimal(value))
        if abs(micros) >= MAX_MICROS:
            raise ValueError(f"amount {value} is beyond the largest riskdesk stores (10^12)")
        return micros

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return micros_to_decimal(int(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: riskdesk stores timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
