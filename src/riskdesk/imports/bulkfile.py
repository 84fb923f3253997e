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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Table

from riskdesk.crashpoints import crashpoint
from riskdesk.db.bulk import bulk_insert, bulk_insert_arrow, bulk_insert_columns
from riskdesk.imports import rowhash, vec
from riskdesk.imports.errors import NUL_MESSAGE, RowError
from riskdesk.imports.headers import Field
from riskdesk.imports.stream import NOT_UTF8, BatchReader

#: In the default (all-or-nothing) mode, stop remembering errors after this many.
MAX_ERRORS = 100_000
#: SQLite page cache for an import (KiB).
IMPORT_CACHE_KB = 16 * 1024


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

    identity: list[pa.Array | np.ndarray]
    rows: Callable[[np.ndarray, np.ndarray], list[tuple[Any, ...]]]
    table: Callable[[np.ndarray, np.ndarray], pa.Table] | None = None  # for COPY (PostgreSQL)
    columns: Callable[[np.ndarray, np.ndarray], list[list[Any]]] | None = None  # SQLite


class Spec(Protocol):
    kind: str
    fields: list[Field]
    table: Table
    columns: list[str]

    def prepare(self, connection: Connection) -> None: ...

    def check(
        self, cols: dict[str, pa.Array], problems: Problems, label: Callable[[str], str]
    ) -> Checked: ...


def _nul_message(_row: int) -> str:
    return NUL_MESSAGE


def blank_rows(columns: list[pa.Array]) -> np.ndarray:
    """Rows whose every column is empty or blank (the first column usually settles it)."""
    blank = vec.empty(columns[0])
    for array in columns[1:]:
        idx = np.flatnonzero(blank)
        if not len(idx):
            break
        blank[idx] = vec.empty(array.take(pa.array(idx)))
    return blank


@contextmanager
def import_pragmas(connection: Connection) -> Iterator[None]:
    """On SQLite, a larger page cache for the import (restored after): the unique row_hash
    index and the (customer, date) index are inserted in random order, and with SQLite's
    default 2 MB cache every insert would re-read index pages from the WAL or the file."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={before}")


@contextmanager
def arrow_pool() -> Iterator[None]:
    """Make jemalloc pyarrow's memory pool for the import, if this pyarrow has it.

    pyarrow's default (mimalloc) keeps freed pages of the two threads' many short-lived
    column buffers: measured on the 1M-row benchmark, jemalloc peaks ~15 MB lower at the same
    speed. Buffers remember their own pool, so switching back afterwards is safe.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, AttributeError):
        yield
        return
    before = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def prefetch(iterable: Iterable[Any], depth: int = 1) -> Iterator[Any]:
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


def row_hashes(identity: list[pa.Array | np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Signed 64-bit row hashes (see `riskdesk.imports.rowhash`) of `rows` of a batch.

    Each identity column is a string array, or already the uint64 value hash of every row.
    """
    return rowhash.fold(
        [(c if isinstance(c, np.ndarray) else rowhash.column_hashes(c))[rows] for c in identity]
    )


class SeenHashes:
    """Row hashes (and their lines) seen earlier in the file, as a few sorted runs.

    Runs are merged when the newest is at least half the size of the one before it, so a
    file of n rows costs O(n log n) in all and a lookup searches O(log n) runs. A 2 MB bitmap
    of the hashes' top 24 bits answers most lookups of new hashes without searching.
    """

    BITS = 24

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        self.bitmap = np.zeros(1 << (self.BITS - 3), dtype=np.uint8)

    def _slots(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = hashes.view(np.uint64) >> np.uint64(64 - self.BITS)
        return (top >> np.uint64(3)).astype(np.intp), (top & np.uint64(7)).astype(np.uint8)

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit mask, line of the earlier row for hits). Sorted `hashes` search fastest."""
        hit = np.zeros(len(hashes), dtype=bool)
        first = np.zeros(len(hashes), dtype=np.int64)
        byte, bit = self._slots(hashes)
        maybe = np.flatnonzero((self.bitmap[byte] >> bit) & 1)
        if not len(maybe):
            return hit, first
        keys = hashes[maybe]
        for run_h, run_l in self.runs:
            pos = np.minimum(np.searchsorted(run_h, keys), len(run_h) - 1)
            found = (run_h[pos] == keys) & ~hit[maybe]
            first[maybe] = np.where(found, run_l[pos], first[maybe])
            hit[maybe] |= found
        return hit, first

    def add(self, hashes: np.ndarray, lines: np.ndarray) -> None:
        """Remember `hashes` (distinct, none seen before) and their lines (12 bytes a row)."""
        byte, bit = self._slots(hashes)
        np.bitwise_or.at(self.bitmap, byte, np.left_shift(1, bit).astype(np.uint8))
        order = np.argsort(hashes)
        self.runs.append((hashes[order], lines[order].astype(np.int32)))
        while len(self.runs) > 1 and 2 * len(self.runs[-1][0]) >= len(self.runs[-2][0]):
            (h2, l2), (h1, l1) = self.runs.pop(), self.runs.pop()
            at = np.searchsorted(h1, h2)  # merge in place of a sort: no n-sized temporaries
            self.runs.append((np.insert(h1, at, h2), np.insert(l1, at, l2)))


@dataclass
class Columns:
    """A batch to insert as column lists (see `bulk_insert_columns`)."""

    values: list[list[Any]]

    def __len__(self) -> int:
        return len(self.values[0]) if self.values else 0


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
    batch_rows: int | None = None,
) -> Outcome:
    out = Outcome()
    total_bytes = path.stat().st_size
    spec.prepare(connection)
    kwargs: dict[str, int] = {}
    if block_size:
        kwargs["block_size"] = block_size
    if batch_rows:
        kwargs["batch_rows"] = batch_rows
    reader = BatchReader(path, len(header), positions, **kwargs)

    def label(name: str) -> str:
        return header[positions[name]] if name in positions else name

    seen = SeenHashes()
    arrow = connection.dialect.name == "postgresql"

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
            if actual == NOT_UTF8:
                remember(line, "row", "not UTF-8 text (save the export as UTF-8)")
            elif actual < len(header):
                message = f"missing column: the row has {actual} fields, the header {len(header)}"
                remember(line, header[actual], message)
            else:
                message = f"too many fields: the row has {actual}, the header {len(header)}"
                remember(line, "row", message)
        return len(reader.invalid)

    def batches() -> Iterator[tuple[Any, int]]:
        """Parse, check, hash and convert each batch (in the reader thread, ahead of the
        inserts): yields (rows or arrow table to insert, or None; bytes read so far)."""
        invalid_done = 0
        for start, cols in reader:
            invalid_done = flush_invalid(invalid_done)

            n = len(next(iter(cols.values())))
            blank = blank_rows(list(cols.values()))
            out.rows_read += n - int(blank.sum())

            problems = Problems(n)
            checked = spec.check(cols, problems, label)
            for name, array in cols.items():  # the same file means the same on both databases
                problems.add(vec.has_nul(array), label(name), _nul_message)
            bad = problems.any_mask() & ~blank
            good = np.flatnonzero(~bad & ~blank)
            if problems.items:
                lines_all = reader.lines(start + np.arange(n, dtype=np.int64))
                for mask, column, message in problems.items:
                    for i in np.flatnonzero(mask & ~blank):
                        remember(int(lines_all[i]), column, message(int(i)))

            payload = None
            if len(good):
                hashes = row_hashes(checked.identity, good)
                lines = reader.lines(start + good)
                # duplicates inside the file: within this batch, then against earlier batches
                order = np.argsort(hashes, kind="stable")
                sorted_h = hashes[order]
                dup = np.zeros(len(good), dtype=bool)
                first_line = np.zeros(len(good), dtype=np.int64)
                same = np.flatnonzero(sorted_h[1:] == sorted_h[:-1]) + 1
                if len(same):
                    run_start = np.maximum.accumulate(
                        np.where(
                            np.r_[True, sorted_h[1:] != sorted_h[:-1]], np.arange(len(good)), 0
                        )
                    )
                    dup[order[same]] = True
                    first_line[order[same]] = lines[order[run_start[same]]]
                hit_sorted, earlier_sorted = seen.find(sorted_h)  # sorted keys search faster
                hit = np.empty_like(hit_sorted)
                hit[order] = hit_sorted
                earlier = np.empty_like(earlier_sorted)
                earlier[order] = earlier_sorted
                dup |= hit
                first_line = np.where(hit, earlier, first_line)
                for j in np.flatnonzero(dup):
                    remember(
                        int(lines[j]),
                        "row",
                        f"duplicate row: same identity as line {int(first_line[j])}",
                    )
                keep = ~dup
                good, hashes, lines = good[keep], hashes[keep], lines[keep]
                seen.add(hashes, lines)

                if len(good) and (skip_bad_rows or not out.bad_lines):
                    order = np.argsort(hashes)  # index pages touched in order
                    if arrow and checked.table is not None:
                        payload = checked.table(good[order], hashes[order])
                    elif not arrow and checked.columns is not None:
                        payload = Columns(checked.columns(good[order], hashes[order]))
                    else:
                        payload = checked.rows(good[order], hashes[order])
            yield payload, reader.bytes_done
        flush_invalid(invalid_done)  # rows found after the last batch

    with import_pragmas(connection), arrow_pool():
        for payload, bytes_done in prefetch(batches()):
            if payload is not None:
                if isinstance(payload, pa.Table):
                    inserted = bulk_insert_arrow(
                        connection, spec.table, payload, ignore_conflicts_on="row_hash"
                    )
                elif isinstance(payload, Columns):
                    inserted = bulk_insert_columns(
                        connection,
                        spec.table,
                        spec.columns,
                        payload.values,
                        ignore_conflicts_on="row_hash",
                    )
                else:
                    inserted = bulk_insert(
                        connection,
                        spec.table,
                        spec.columns,
                        payload,
                        ignore_conflicts_on="row_hash",
                    )
                out.rows_inserted += inserted
                out.rows_duplicate += len(payload) - inserted
                crashpoint("import.after_batch")
            if progress is not None:
                progress(min(bytes_done, total_bytes), total_bytes)

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
