"""The driver for large provider exports: stream batches, validate column-wise, insert.

A `Spec` (pc_usage, pc_invoice) says which columns it reads and turns one batch of string
columns into problems (boolean masks with a column and a message), identity columns (for the
row hash) and insert rows. This module does the rest: line numbers, blank lines, rows with the
wrong number of fields, duplicates inside the file, bulk inserts that skip rows already in the
book, progress, and the list of bad lines for errors and the reject file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Table

from riskdesk.db.bulk import bulk_insert
from riskdesk.imports import vec
from riskdesk.imports.errors import RowError
from riskdesk.imports.headers import Field
from riskdesk.imports.stream import BatchReader

#: In the default (all-or-nothing) mode, stop remembering errors after this many.
MAX_ERRORS = 100_000
_SEP = "\x1f"


@dataclass
class Problems:
    """Bad rows found in one batch: (mask, column label, message for row i)."""

    n: int
    items: list[tuple[np.ndarray, str, Callable[[int], str]]] = field(default_factory=list)

    def add(self, mask: np.ndarray, column: str, message: Callable[[int], str]) -> None:
        if mask.any():
            self.items.append((mask, column, message))

    def any_mask(self) -> np.ndarray:
        bad = np.zeros(self.n, dtype=bool)
        for mask, _, _ in self.items:
            bad |= mask
        return bad


@dataclass
class Checked:
    """A validated batch: identity columns for the hash and a builder of insert rows."""

    identity: list[pa.Array]
    rows: Callable[[np.ndarray, np.ndarray], list[tuple[Any, ...]]]


class Spec(Protocol):
    kind: str
    fields: list[Field]
    table: Table
    columns: list[str]

    def prepare(self, connection: Connection) -> None: ...

    def check(
        self, cols: dict[str, pa.Array], problems: Problems, label: Callable[[str], str]
    ) -> Checked: ...


def prefetch(iterable: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """Iterate in a background thread, `depth` items ahead (parsing overlaps inserting)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            items.put(exc)

    thread = threading.Thread(target=work, name="riskdesk-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def row_hashes(identity: list[pa.Array]) -> np.ndarray:
    """Signed 64-bit hashes of the identity columns joined with U+001F.

    pandas' `hash_array` (SipHash-2-4 with pandas' fixed key over the UTF-8 bytes) is stable
    across runs and machines; the uint64 is reinterpreted as int64 for a BIGINT column.
    """
    joined = pc.binary_join_element_wise(*identity, _SEP)
    values = joined.to_numpy(zero_copy_only=False)
    return pd.util.hash_array(values, categorize=False).view(np.int64)


@dataclass
class Outcome:
    rows_read: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    bad_lines: dict[int, str] = field(default_factory=dict)  # line -> message (reject file)
    sha256: str = ""


def run(
    connection: Connection,
    spec: Spec,
    path: Path,
    file_label: str,
    header: list[str],
    positions: dict[str, int],
    *,
    skip_bad_rows: bool,
    progress: Callable[[int, int], None] | None,
    block_size: int | None = None,
) -> Outcome:
    out = Outcome()
    total_bytes = path.stat().st_size
    spec.prepare(connection)
    kwargs = {"block_size": block_size} if block_size else {}
    reader = BatchReader(path, len(header), positions, **kwargs)

    def label(name: str) -> str:
        return header[positions[name]] if name in positions else name

    seen_hash = np.empty(0, dtype=np.int64)
    seen_line = np.empty(0, dtype=np.int64)
    invalid_done = 0

    def remember(line: int, column: str, message: str) -> None:
        out.bad_lines[line] = (
            f"{out.bad_lines[line]}; {column}: {message}"
            if line in out.bad_lines
            else f"{column}: {message}"
        )
        if skip_bad_rows or len(out.errors) < MAX_ERRORS:
            out.errors.append(RowError(file_label, line, column, message))

    def flush_invalid(done: int) -> int:
        """Report rows with the wrong number of fields that the parser has set aside."""
        for line, _text, actual in reader.invalid[done:]:
            out.rows_read += 1
            if actual < len(header):
                message = f"missing column: the row has {actual} fields, the header {len(header)}"
                remember(line, header[actual], message)
            else:
                message = f"too many fields: the row has {actual}, the header {len(header)}"
                remember(line, "row", message)
        return len(reader.invalid)

    for start, cols in prefetch(reader):
        invalid_done = flush_invalid(invalid_done)

        n = len(next(iter(cols.values())))
        blank = np.ones(n, dtype=bool)
        for array in cols.values():
            blank &= vec.empty(array)
        out.rows_read += int((~blank).sum())

        problems = Problems(n)
        checked = spec.check(cols, problems, label)
        bad = problems.any_mask() & ~blank
        good = np.flatnonzero(~bad & ~blank)
        lines_all = None
        if problems.items:
            lines_all = reader.lines(start + np.arange(n, dtype=np.int64))
            for mask, column, message in problems.items:
                for i in np.flatnonzero(mask & ~blank):
                    remember(int(lines_all[i]), column, message(int(i)))

        if len(good):
            hashes = row_hashes([a.take(pa.array(good)) for a in checked.identity])
            lines = reader.lines(start + good)
            # duplicates inside the file: within this batch, then against earlier batches
            order = np.argsort(hashes, kind="stable")
            sorted_h = hashes[order]
            dup = np.zeros(len(good), dtype=bool)
            first_line = np.zeros(len(good), dtype=np.int64)
            same = np.flatnonzero(sorted_h[1:] == sorted_h[:-1]) + 1
            if len(same):
                run_start = np.maximum.accumulate(
                    np.where(np.r_[True, sorted_h[1:] != sorted_h[:-1]], np.arange(len(good)), 0)
                )
                dup[order[same]] = True
                first_line[order[same]] = lines[order[run_start[same]]]
            if len(seen_hash):
                pos = np.searchsorted(seen_hash, hashes)
                pos_c = np.minimum(pos, len(seen_hash) - 1)
                hit = seen_hash[pos_c] == hashes
                dup |= hit
                first_line = np.where(hit, seen_line[pos_c], first_line)
            for j in np.flatnonzero(dup):
                remember(
                    int(lines[j]),
                    "row",
                    f"duplicate row: same identity as line {int(first_line[j])}",
                )
            keep = ~dup
            good, hashes, lines = good[keep], hashes[keep], lines[keep]
            merged_h = np.concatenate([seen_hash, hashes])
            merged_l = np.concatenate([seen_line, lines])
            order = np.argsort(merged_h, kind="stable")
            seen_hash, seen_line = merged_h[order], merged_l[order]

            if skip_bad_rows or not out.bad_lines:
                order = np.argsort(hashes)  # index pages touched in order: fewer cache misses
                rows = checked.rows(good[order], hashes[order])
                inserted = bulk_insert(
                    connection, spec.table, spec.columns, rows, ignore_conflicts_on="row_hash"
                )
                out.rows_inserted += inserted
                out.rows_duplicate += len(rows) - inserted
        if progress is not None:
            progress(min(reader.bytes_done, total_bytes), total_bytes)

    flush_invalid(invalid_done)  # rows found after the last batch
    out.rows_rejected = len(out.bad_lines)
    out.errors.sort(key=lambda e: e.line)
    out.sha256 = reader.sha256
    if progress is not None:
        progress(total_bytes, total_bytes)
    return out


def max_length(problems: Problems, array: pa.Array, column: str, limit: int) -> None:
    too_long = np.asarray(
        pc.greater(pc.utf8_length(array), limit).to_numpy(zero_copy_only=False), dtype=bool
    )
    problems.add(too_long, column, lambda i: f"value longer than {limit} characters")


def value(array: pa.Array, i: int) -> str:
    return array[i].as_py()
