"""The row identity hash of provider exports: stable, 64-bit, computed column-wise.

A row's identity is a list of string values (for `pc-usage`: CustomerId, SubscriptionId, ...).
Its `row_hash` is defined without reference to any library's internal hash, so it is the same
on every run, machine and library version:

1. each value is hashed on its own: the first 8 bytes of BLAKE2b (`digest_size=8`, no key,
   `person=b"riskdesk.row"`) of its UTF-8 bytes, read as a little-endian unsigned integer;
2. the value hashes are folded left to right, starting from 0, with
   `h = splitmix64(h XOR value_hash)`, where `splitmix64(x)` is the SplitMix64 output
   function: `z = x + 0x9E3779B97F4A7C15; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
   z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^ (z >> 31)`, all modulo 2**64;
3. the result is reinterpreted as a signed 64-bit integer (a BIGINT column).

The values hashed are canonical, so that the export and the API spelling of one row are the
same row: text is `canonical_text` (blanks trimmed, runs of blanks one space, lower case), so
`New`, `new` and ` NEW` are one charge type; numbers are `canonical_number` (the decimal value
without trailing zeros, so `10.50`, `10.5` and `1.05E1` are one amount); dates are ISO
`YYYY-MM-DD` whatever time of day follows them.

Because each value is hashed separately, only the distinct values of a batch are hashed (a
usage export repeats the same customer, subscription, date and meter thousands of times); the
fold is a handful of numpy operations over the whole batch. `row_hash_py` is the same
definition one row at a time, for tests and for anyone checking a stored hash by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from hashlib import blake2b

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PERSON = b"riskdesk.row"
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK = (1 << 64) - 1
_BLANKS = r"[ \t\n\r\f\v]+"  # ASCII blanks
_EDGE_BLANKS = f"^{_BLANKS}|{_BLANKS}$"


def canonical_text(value: str) -> str:
    """An identity value as compared: blanks trimmed, inner runs of blanks one space, lower
    case (pyarrow's `utf8_lower`, so one value is canonical exactly as a column is)."""
    return str(canonical_texts(pa.array([value], pa.string()))[0].as_py())


def canonical_number(value: str) -> str:
    """A number as compared: its exact decimal value, plain, without trailing zeros ("10.5").

    Text that is not a finite number is compared as `canonical_text` (such rows are refused
    anyway; the hash only has to be defined).
    """
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return canonical_text(value)
    if not number.is_finite():
        return canonical_text(value)
    if number == 0:
        return "0"
    if not -40 <= number.adjusted() <= 40:  # `1e999999999` in plain digits: a gigabyte
        return canonical_text(value)  # refused as an amount anyway
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def canonical_texts(array: pa.Array) -> pa.Array:
    """`canonical_text` of every value of a string column, nulls as ''."""
    array = pc.fill_null(array, "")
    array = pc.replace_substring_regex(array, _EDGE_BLANKS, "")
    return pc.utf8_lower(pc.replace_substring_regex(array, _BLANKS, " "))


def canonical_numbers(array: pa.Array) -> pa.Array:
    """`canonical_number` of every value of a string column (each distinct value once)."""
    codes, uniques = encode(array)
    values = pa.array([canonical_number(v) for v in uniques.to_pylist()], pa.string())
    return values.take(pa.array(codes))


def value_hashes(values: Sequence[str]) -> np.ndarray:
    """uint64 BLAKE2b-64 of each value's UTF-8 bytes."""
    digests = b"".join(
        blake2b(v.encode("utf-8"), digest_size=8, person=PERSON).digest() for v in values
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def encode(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(int32 code of each row, the distinct values): dictionary encoding, nulls as ''."""
    if array.null_count:
        array = pc.fill_null(array, "")
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary


def column_hashes(array: pa.Array) -> np.ndarray:
    """uint64 value hash of every row of a string column (hashing each distinct value once)."""
    codes, uniques = encode(array)
    return value_hashes(uniques.to_pylist())[codes]


def fold(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Signed 64-bit row hashes from per-column uint64 value hashes (step 2 and 3 above)."""
    h = np.zeros(len(columns[0]), dtype=np.uint64)
    for values in columns:
        h = splitmix64(h ^ values)
    return h.view(np.int64)


def row_hashes(identity: Sequence[pa.Array]) -> np.ndarray:
    """Signed 64-bit row hashes of the identity columns (string arrays of equal length)."""
    return fold([column_hashes(array) for array in identity])


def row_hash_py(values: Sequence[str]) -> int:
    """The same hash for one row, in plain Python."""
    h = 0
    for value in values:
        v = int.from_bytes(
            blake2b(value.encode("utf-8"), digest_size=8, person=PERSON).digest(), "little"
        )
        z = ((h ^ v) + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        h = z ^ (z >> 31)
    return h - (1 << 64) if h >= 1 << 63 else h
