from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskdesk.money import (
    CurrencyError,
    Money,
    decimal_to_micros,
    micros_to_decimal,
    minor_units,
    total,
)

currencies = st.sampled_from(["EUR", "USD", "JPY", "KWD", "CNY", "GBP"])
amounts = st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=6)


@given(amounts, currencies)
def test_amount_is_rounded_to_the_currency_minor_unit(amount, currency):
    money = Money(amount, currency)
    assert -money.amount.as_tuple().exponent == minor_units(currency)
    assert abs(money.amount - amount) <= Decimal(1).scaleb(-minor_units(currency)) / 2


@given(amounts, amounts, amounts, currencies)
def test_addition_is_exact_associative_and_commutative(a, b, c, currency):
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert (x + y) - y == x
    assert x + Money.zero(currency) == x


@given(amounts, st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8))
def test_allocate_splits_without_losing_a_cent(amount, ratios):
    if sum(ratios) == 0:
        ratios[0] = 1
    money = Money(amount, "EUR")
    parts = money.allocate(ratios)
    assert total(parts, "EUR") == money
    assert len(parts) == len(ratios)
    spread = max(p.amount for p in parts) - min(p.amount for p in parts)
    if len(set(ratios)) == 1:
        assert spread <= Decimal("0.01")


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_micros_round_trip(micros):
    assert decimal_to_micros(micros_to_decimal(micros)) == micros


def test_different_currencies_do_not_mix():
    with pytest.raises(CurrencyError, match="EUR with USD"):
        Money("1", "EUR") + Money("1", "USD")
    with pytest.raises(CurrencyError):
        Money("1", "EUR") < Money("2", "USD")


def test_unknown_currency_and_float_are_refused():
    with pytest.raises(CurrencyError, match="'EURO'"):
        Money("1", "EURO")
    with pytest.raises(TypeError, match="never float"):
        Money(0.1, "EUR")
    with pytest.raises(TypeError):
        Money("1", "EUR") * 1.5


def test_half_even_rounding_and_minor_units():
    assert Money("0.125", "EUR").amount == Decimal("0.12")
    assert Money("0.135", "EUR").amount == Decimal("0.14")
    assert Money("1234.5", "JPY").amount == Decimal("1234")
    assert Money("1.0005", "KWD").amount == Decimal("1.000")
    assert str(Money("1234567.5", "EUR")) == "1,234,567.50 EUR"
