"""The row identity hash is pinned: stored hashes must not change between releases."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from riskdesk.imports.bulkfile import SeenHashes
from riskdesk.imports.rowhash import row_hash_py, row_hashes


def test_row_hash_is_pinned():
    # changing these values changes every stored row_hash: re-imports would duplicate rows
    assert row_hash_py([]) == 0
    assert row_hash_py(["a", "b"]) == -6022703617240386105
    assert row_hash_py(["", "é", "x\x1fy"]) == 6308611727390533855
    assert row_hashes([pa.array(["a"]), pa.array(["b"])]).tolist() == [-6022703617240386105]


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), min_size=1, max_size=40))
def test_vectorised_hash_matches_the_scalar_definition(rows):
    left = pa.array([a for a, _ in rows], pa.string())
    right = pa.array([b for _, b in rows], pa.string())
    assert row_hashes([left, right]).tolist() == [row_hash_py([a, b]) for a, b in rows]


def test_column_boundaries_matter():
    assert row_hash_py(["ab", "c"]) != row_hash_py(["a", "bc"])
    assert row_hash_py(["a", ""]) != row_hash_py(["", "a"])


def test_seen_hashes_finds_earlier_rows_and_their_lines():
    rng = np.random.default_rng(1)
    hashes = rng.integers(-(2**63), 2**63 - 1, 5_000, dtype=np.int64)
    seen = SeenHashes()
    for start in range(0, 4_000, 250):
        seen.add(hashes[start : start + 250], np.arange(start, start + 250) + 2)
    assert len(seen.runs) < 10
    hit, line = seen.find(hashes)
    assert hit.tolist() == [True] * 4_000 + [False] * 1_000
    assert (line[:4_000] == np.arange(4_000) + 2).all()
