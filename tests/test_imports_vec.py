"""The column-wise money and date parsers agree with the exact scalar rules."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from riskdesk.imports import vec
from riskdesk.money import MAX_MICROS, decimal_to_micros

amounts = st.decimals(
    min_value=Decimal("-999999999999.999999999"),
    max_value=Decimal("999999999999.999999999"),
    allow_nan=False,
    allow_infinity=False,
    places=9,
)


@given(st.lists(amounts, min_size=1, max_size=50))
def test_parse_micros_matches_decimal_to_micros(values):
    texts = [format(v, "f") for v in values]
    micros, bad = vec.parse_micros(pa.array(texts))
    # refused exactly when the amount as stored (rounded to micros) reaches 10^12
    expected = [decimal_to_micros(v) for v in values]
    assert bad.tolist() == [abs(m) >= MAX_MICROS for m in expected]
    assert [m for m, b in zip(micros.tolist(), bad, strict=True) if not b] == [
        m for m in expected if abs(m) < MAX_MICROS
    ]


def test_parse_micros_refuses_what_rounds_to_the_limit_and_says_too_large():
    texts = [
        "-999999999999.9999999",
        "999999999999.9999995",
        "999999999999.9999994",
        "9223372036854.77",
        "1e12",
        "NaN",
    ]
    micros, bad = vec.parse_micros(pa.array(texts))
    assert bad.tolist() == [True, True, False, True, True, True]
    assert micros[2] == MAX_MICROS - 1
    large = vec.too_large(pa.array(texts), bad)
    assert sorted(large) == [0, 1, 3, 4]
    assert all("riskdesk stores amounts below 1,000,000,000,000" in m for m in large.values())


def test_parse_micros_refuses_what_is_not_a_finite_amount():
    texts = [
        "1.5E-05",
        "NaN",
        "Infinity",
        "12,50",
        "",
        "-",
        ".",
        "1e400",
        "0.0000005",
        "-0.0000015",
    ]
    micros, bad = vec.parse_micros(pa.array(texts))
    assert bad.tolist() == [False, True, True, True, True, True, True, True, False, False]
    assert micros[0] == 15 and micros[8] == 0 and micros[9] == -2


def test_parse_dates_refuses_impossible_days():
    days, bad = vec.parse_dates(
        pa.array(
            ["1/5/2026", "2/29/2024", "2/29/2026", "13/1/2026", "2026-01-05", "12/31/2025 0:00"]
        )
    )
    assert bad.tolist() == [False, False, True, True, False, False]
    assert days[0] == np.datetime64("2026-01-05") and days[5] == np.datetime64("2025-12-31")
