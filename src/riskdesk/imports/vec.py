"""Vectorised parsing of CSV string columns (pyarrow.compute + numpy), one batch at a time.

Each parser returns values plus a boolean numpy mask of the rows it could not parse. Money
never passes through float: the decimal string is split into integer and fraction digits and
rounded half-to-even at the sixth decimal, exactly like `riskdesk.money.decimal_to_micros`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from riskdesk.imports.dates import EARLIEST, LATEST
from riskdesk.money import (
    CURRENCIES,
    MAX_MICROS,
    beyond_limit,
    decimal_to_micros,
    micros_to_decimal,
)

_CURRENCY_SET = pa.array(sorted(CURRENCIES), pa.string())

# M/D/YYYY (Partner Center) or ISO YYYY-MM-DD, optionally followed by a time of day:
# H:MM[:SS[.fraction]], then AM/PM (a 12-hour clock) and/or Z or a +HH:MM offset. The
# time is checked (hours 0..23, or 1..12 with AM/PM; minutes and seconds 0..59) but only
# the day is kept.
_DATE = (
    r"^\s*(?:(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})/(?P<y>[0-9]{4})"
    r"|(?P<Y>[0-9]{4})-(?P<M>[0-9]{2})-(?P<D>[0-9]{2}))"
    r"(?:[ T](?P<h>[0-9]{1,2}):(?P<n>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.[0-9]{1,9})?)?"
    r" ?(?P<p>[AaPp][Mm])?(?:[Zz]|[+-](?P<oh>[0-9]{2}):?(?P<om>[0-9]{2}))?)?\s*$"
)
_DATE_GROUPS = ("m", "d", "y", "Y", "M", "D", "h", "n", "s", "p", "oh", "om")
_PLAIN_DECIMAL = r"^\s*(?P<s>[+-]?)(?P<i>\d*)(?:\.(?P<f>\d*))?\s*$"
_NUMBER = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$"


def _np_bool(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def empty(array: pa.Array) -> np.ndarray:
    """Rows whose value is empty or only blanks."""
    return _np_bool(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0))


def _digits(array: pa.Array) -> np.ndarray:
    """Cast a column of digit strings (empty means 0) to int64."""
    filled = pc.if_else(pc.equal(array, ""), "0", array)
    return pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False)


def parse_dates(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(datetime64[D] values, bad mask). Accepts M/D/YYYY and YYYY-MM-DD, days within
    `dates.EARLIEST` .. `dates.LATEST` (the range of every imported day), each optionally
    with a time of day that exists (`11/9/2026 25:00:00` is bad; see `_DATE`)."""
    n = len(array)
    parts = pc.extract_regex(pc.fill_null(array, ""), _DATE)
    matched = _np_bool(pc.is_valid(parts))
    parts = pc.fill_null(parts, pa.scalar({k: "" for k in _DATE_GROUPS}, parts.type))
    us = {k: pc.struct_field(parts, k) for k in _DATE_GROUPS}
    iso = pc.not_equal(us["Y"], "")
    y = _digits(pc.if_else(iso, us["Y"], us["y"]))
    m = _digits(pc.if_else(iso, us["M"], us["m"]))
    d = _digits(pc.if_else(iso, us["D"], us["d"]))
    ok = matched & (y >= EARLIEST.year) & (y <= LATEST.year)
    ok &= (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
    hour, minute, second = _digits(us["h"]), _digits(us["n"]), _digits(us["s"])
    twelve = _np_bool(pc.not_equal(us["p"], ""))
    ok &= np.where(twelve, (hour >= 1) & (hour <= 12), hour <= 23)
    ok &= (minute <= 59) & (second <= 59)
    ok &= (_digits(us["oh"]) <= 23) & (_digits(us["om"]) <= 59)
    month = np.where(ok, (y - 1970) * 12 + (m - 1), 0).astype("datetime64[M]")
    days = month.astype("datetime64[D]") + np.where(ok, d - 1, 0).astype("timedelta64[D]")
    ok &= days.astype("datetime64[M]") == month  # 2/30 rolls into March: not a date
    values = np.where(ok, days, np.datetime64("1970-01-01", "D"))
    assert len(values) == n
    return values, ~ok


def parse_quantity(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, bad mask): a finite decimal number, exponent allowed."""
    text = pc.utf8_trim_whitespace(pc.fill_null(array, ""))
    ok = _np_bool(pc.match_substring_regex(text, _NUMBER))
    safe = pc.if_else(pa.array(ok), text, "0")
    values = pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False)
    ok &= np.isfinite(values)
    return np.where(ok, values, 0.0), ~ok


def parse_micros(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 micros, bad mask): exact, half-to-even at the sixth decimal, never via float.

    Plain decimals ("-12.3456789") are done column-wise; the rare exponent form ("1.5E-05")
    goes through Decimal row by row; anything else (NaN, Infinity, "12,50", text) is bad.
    """
    text = pc.utf8_trim_whitespace(pc.fill_null(array, ""))
    parts = pc.extract_regex(text, _PLAIN_DECIMAL)
    plain = _np_bool(pc.is_valid(parts))
    parts = pc.fill_null(parts, pa.scalar({"s": "", "i": "", "f": ""}, parts.type))
    sign, ip, fp = (pc.struct_field(parts, k) for k in ("s", "i", "f"))
    int_len = pc.utf8_length(ip).to_numpy(zero_copy_only=False)
    frac_len = pc.utf8_length(fp).to_numpy(zero_copy_only=False)
    plain &= (int_len + frac_len) > 0
    plain &= int_len <= 12  # below 10^12 units (riskdesk.money.MAX_AMOUNT): fits in int64
    ip = pc.if_else(pa.array(plain), ip, "0")
    fp = pc.if_else(pa.array(plain), fp, "")
    padded = pc.utf8_rpad(fp, 7, "0")
    first6 = _digits(pc.utf8_slice_codeunits(padded, 0, 6))
    seventh = _digits(pc.utf8_slice_codeunits(padded, 6, 7))
    tail = _np_bool(pc.match_substring_regex(pc.utf8_slice_codeunits(padded, 7, 1 << 30), "[1-9]"))
    round_up = (seventh > 5) | ((seventh == 5) & (tail | (first6 % 2 == 1)))
    magnitude = _digits(ip) * 1_000_000 + first6 + round_up
    plain &= magnitude < MAX_MICROS  # 999999999999.9999995 rounds to 10^12: too large
    negative = _np_bool(pc.equal(sign, "-"))
    values = np.where(negative, -magnitude, magnitude).astype(np.int64)
    bad = ~plain
    if bad.any():  # exponent forms and garbage: decide one by one (rare)
        raw = text.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(bad):
            micros = _decimal_micros(raw[i])
            if micros is not None:
                values[i] = micros
                bad[i] = False
    return values, bad


def _decimal_micros(value: str) -> int | None:
    """The micros of `value`, or None when it is not a finite amount or is too large."""
    amount = _finite(value)
    if amount is None or _too_large(amount) is not None:
        return None
    return decimal_to_micros(amount)


def _finite(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _too_large(amount: Decimal) -> str | None:
    """`money.beyond_limit` of the amount as stored: rounded to micros (half to even)."""
    problem = beyond_limit(amount)  # first: decimal_to_micros overflows on 1e999999999
    if problem is not None:
        return problem
    micros = decimal_to_micros(amount)
    if abs(micros) < MAX_MICROS:
        return None
    return f"{beyond_limit(micros_to_decimal(micros))} ({amount} rounded to the micro)"


def too_large(array: pa.Array, bad: np.ndarray) -> dict[int, str]:
    """Of the rows `parse_micros` found `bad`, those that are a finite number too large for
    riskdesk to store, with `money.beyond_limit`'s message (the wording of every import)."""
    raw = pc.utf8_trim_whitespace(pc.fill_null(array, "")).to_numpy(zero_copy_only=False)
    found: dict[int, str] = {}
    for i in np.flatnonzero(bad):
        amount = _finite(raw[i])
        problem = None if amount is None else _too_large(amount)
        if problem is not None:
            found[int(i)] = problem
    return found


def has_nul(array: pa.Array) -> np.ndarray:
    """Rows whose value holds a NUL character (PostgreSQL cannot store one in text)."""
    return _np_bool(pc.match_substring(pc.fill_null(array, ""), "\x00"))


def known_currency(array: pa.Array) -> np.ndarray:
    return _np_bool(pc.is_in(array, value_set=_CURRENCY_SET))


def lookup(array: pa.Array, keys: pa.Array, values: np.ndarray, *, lower: bool = False):
    """(values[index of each row's key] or -1, found mask). Blanks around a value are
    ignored; with `lower`, letter case too (the keys must be lower case then)."""
    array = pc.utf8_trim_whitespace(pc.fill_null(array, ""))
    if lower:
        array = pc.utf8_lower(array)
    index = pc.index_in(array, value_set=keys)
    found = _np_bool(pc.is_valid(index))
    idx = pc.fill_null(index, 0).to_numpy(zero_copy_only=False)
    if len(values) == 0:
        return np.full(len(array), -1, dtype=np.int64), found
    return np.where(found, values[idx], -1), found


def nullable_strings(array: pa.Array) -> list[str | None]:
    """Python strings, with empty values as None."""
    out = pc.if_else(empty(array), pa.scalar(None, pa.string()), array)
    return out.to_numpy(zero_copy_only=False).tolist()


def strings(array: pa.Array) -> list[str]:
    return array.to_numpy(zero_copy_only=False).tolist()


def longer_than(array: pa.Array, limit: int) -> np.ndarray:
    return _np_bool(pc.greater(pc.utf8_length(array), limit))


def decode(codes: np.ndarray, uniques: pa.Array, *, nullable: bool = True) -> list[str | None]:
    """Python strings of dictionary-encoded rows (each distinct value is one str object);
    with `nullable`, empty or blank values become None."""
    values = np.array(uniques.to_pylist(), dtype=object)
    if nullable and len(values):
        values[empty(uniques)] = None
    return values[codes].tolist()
