"""The column-wise money and date parsers agree with the exact scalar rules."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from riskdesk.imports import vec
from riskdesk.money import decimal_to_micros

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
    assert not bad.any()
    assert micros.tolist() == [decimal_to_micros(v) for v in values]


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
