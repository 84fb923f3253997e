"""Exchange rates: what one unit of a currency is worth in another, on a day, and who said so.

Rates are exact decimals kept as their canonical decimal text (`RateText`): SQL only compares
and groups them (the facts query picks the latest rate on or before a usage day); every
multiplication is done in Python with `Decimal`, so a rate of any precision stays exact on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import CheckConstraint, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from riskdesk.db.models.base import Base

#: The largest and smallest power of ten a rate may have: 1 unit of one currency is worth
#: between 10^-12 and 10^12 units of another (its canonical text has at most 40 characters).
RATE_EXPONENT = 12


def canonical_rate(value: Decimal | str) -> str:
    """The one text of a positive exact rate ('1.0800' and '1.08' are both '1.08').

    A rate is finite, positive, between 10^-RATE_EXPONENT and 10^RATE_EXPONENT, and at most
    40 characters once written out; anything else is a ValueError naming the value (never an
    overflow: the checks look at the digits and exponent, no arithmetic rounds them)."""
    try:
        rate = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not rate.is_finite() or rate.is_signed() or rate.is_zero():
        raise ValueError(f"not a positive rate: {value!r}")
    sign, digits, exponent = rate.as_tuple()
    assert isinstance(exponent, int)
    if not -RATE_EXPONENT <= rate.adjusted() < RATE_EXPONENT:
        raise ValueError(
            f"rate {value!r} is out of range (expected 1e-{RATE_EXPONENT} .. 1e{RATE_EXPONENT})"
        )
    kept = len(digits)
    while kept > 1 and digits[kept - 1] == 0:  # exact normalize: strip trailing zeros
        kept -= 1
    exponent += len(digits) - kept
    text = format(Decimal((0, digits[:kept], exponent)), "f")
    if len(text) > 40:
        raise ValueError(f"rate {value!r} has more than 40 digits")
    return text


class RateText(TypeDecorator[Decimal]):
    """An exact positive Decimal rate stored as its canonical decimal text (VARCHAR(40))."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else canonical_rate(value)

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class ExchangeRate(Base):
    """1 `from_currency` = `rate` `to_currency` on `day`, from `source` (a file, a bank).

    One rate per pair and day; the facts convert a usage day with the latest rate of its pair
    on or before that day. Only the pair as given is used (a USD->EUR rate is not inverted
    into EUR->USD): the reseller states which rates it converts with.
    """

    __tablename__ = "exchange_rates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_currency: Mapped[str] = mapped_column(String(3))
    to_currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(RateText)
    source: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("uq_exchange_rates_pair_day", "from_currency", "to_currency", "day", unique=True),
        CheckConstraint("from_currency <> to_currency", name="distinct_currencies"),
    )
