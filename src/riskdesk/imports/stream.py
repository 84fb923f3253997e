"""Read a large CSV in batches of string columns, knowing each row's physical line.

The file is read a chunk of whole lines at a time (about `BLOCK_SIZE` bytes) and each chunk is
parsed by pyarrow's CSV reader, converting only the columns an importer needs, all as strings.
Parsed chunks are gathered into batches of about `BATCH_ROWS` rows: small chunks keep the
parser's memory low (a usage row is ~1 KB of which the importer keeps ~300 bytes), large
batches keep the per-batch cost of the column-wise checks low.
Reading the chunks ourselves bounds memory (pyarrow's own streaming reader reads ahead without
limit from a Python file) and gives progress and the file's SHA-256 in the same pass.

Rows with the wrong number of fields go to pyarrow's `invalid_row_handler` (which, with
threads off, gives their line within the chunk) instead of the batch, so a valid row's line is
the chunk's first line plus its index plus the invalid rows before it. Blank lines come
through as rows of empty strings and are dropped by the caller. Quoted fields must not span
lines (Partner Center exports never do), otherwise line numbers drift.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

BLOCK_SIZE = 1 << 20
#: In `BatchReader.invalid`, the field count given for a line that is not UTF-8 text.
NOT_UTF8 = -1
#: Parsed chunks are gathered into batches of at least this many rows for the checks.
BATCH_ROWS = 8_192


@dataclass(frozen=True)
class NotUtf8:
    """A line that is not UTF-8 text: shown with replacement characters, and where it breaks."""

    text: str
    byte: int


class BatchReader:
    """Iterate `(first_row_index, {name: StringArray})` over the data rows of `path`."""

    def __init__(
        self,
        path: Path,
        n_columns: int,
        wanted: dict[str, int],
        *,
        block_size: int = BLOCK_SIZE,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.path = path
        self.n_columns = n_columns
        self.wanted = wanted
        self.block_size = block_size
        self.batch_rows = batch_rows
        self.invalid: list[tuple[int, str, int]] = []  # (line, text, fields in that row)
        self._invalid_v: list[int] = []  # valid rows seen before each invalid row
        self._sha256 = hashlib.sha256()
        self.bytes_done = 0
        self.rows = 0
        self._first_line = 2  # physical line of the current chunk's first row

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def _chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as handle:
            header = handle.readline()
            self._sha256.update(header)
            self.bytes_done = len(header)
            rest = b""
            while True:
                block = handle.read(self.block_size)
                self._sha256.update(block)
                self.bytes_done += len(block)
                if not block:
                    if rest:
                        yield rest if rest.endswith(b"\n") else rest + b"\n"
                    return
                data = rest + block
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                rest = data[cut:]
                yield data[:cut]

    def __iter__(self) -> Iterator[tuple[int, dict[str, pa.Array]]]:
        names = [f"c{i}" for i in range(self.n_columns)]
        by_position = {f"c{i}": name for name, i in self.wanted.items()}
        include = list(by_position) or names[:1]
        convert = pa_csv.ConvertOptions(
            include_columns=include,
            column_types={n: pa.string() for n in include},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        read = pa_csv.ReadOptions(
            use_threads=False, column_names=names, block_size=2 * self.block_size + (1 << 20)
        )
        pending: list[pa.Table] = []
        pending_rows = 0
        for piece in self._utf8_pieces(self._chunks()):
            if isinstance(piece, NotUtf8):
                line = self._first_line
                self.invalid.append((line, piece.text, NOT_UTF8))
                self._invalid_v.append(line - 2 - len(self._invalid_v))
                self._first_line += 1
                continue
            chunk = piece
            first_line = self._first_line
            invalid_before = len(self.invalid)

            def on_invalid(row, first_line=first_line) -> str:
                line = first_line + int(row.number) - 1 if row.number is not None else -1
                self.invalid.append((line, row.text, row.actual_columns))
                self._invalid_v.append(line - 2 - len(self._invalid_v))
                return "skip"

            table = pa_csv.read_csv(
                pa.py_buffer(chunk),
                read_options=read,
                parse_options=pa_csv.ParseOptions(
                    invalid_row_handler=on_invalid, ignore_empty_lines=False
                ),
                convert_options=convert,
            )
            # one row per line (quoted fields do not span lines): parsed rows + invalid rows
            self._first_line += table.num_rows + (len(self.invalid) - invalid_before)
            del chunk
            if table.num_rows == 0:
                continue
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= self.batch_rows:
                batch = self._batch(pending, by_position)
                pending, pending_rows = [], 0  # not held while the batch is checked
                yield batch
                del batch
        if pending:
            yield self._batch(pending, by_position)

    @staticmethod
    def _utf8_pieces(chunks: Iterator[bytes]) -> Iterator[bytes | NotUtf8]:
        """The chunks, with each line that is not UTF-8 cut out as a `NotUtf8` in its place.

        pyarrow refuses a whole chunk for one such byte; cutting the line out lets it be
        reported (or rejected) as one bad row like any other. ASCII chunks pass at memcpy speed.
        """
        for chunk in chunks:
            if chunk.isascii():
                yield chunk
                continue
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                yield chunk
                continue
            good: list[bytes] = []
            for line in chunk.splitlines(keepends=True):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    if good:
                        yield b"".join(good)
                        good = []
                    yield NotUtf8(line.decode("utf-8", "replace").rstrip("\r\n"), exc.start)
                else:
                    good.append(line)
            if good:
                yield b"".join(good)

    def _batch(
        self, tables: list[pa.Table], by_position: dict[str, str]
    ) -> tuple[int, dict[str, pa.Array]]:
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        start = self.rows
        self.rows += table.num_rows
        return (
            start,
            {
                by_position[n]: table.column(n).combine_chunks()
                for n in table.schema.names
                if n in by_position
            },
        )

    def lines(self, row_indices: np.ndarray) -> np.ndarray:
        """Physical line numbers of valid rows given by their global index."""
        v = np.asarray(self._invalid_v, dtype=np.int64)
        return 2 + row_indices + np.searchsorted(v, row_indices, side="right")
