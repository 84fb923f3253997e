"""Reading the reseller's own small CSV files: records with their raw text, per-row checks.

These files are a few thousand rows, so they are read whole with Python's csv module and
checked row by row; every problem names the line and the column as spelled in the header.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskdesk.db.models import Customer
from riskdesk.imports.dates import parse_day
from riskdesk.imports.errors import NUL_MESSAGE, ImportFileError, RowError
from riskdesk.imports.headers import Field, normalise, resolve
from riskdesk.money import CURRENCIES, beyond_limit, finer_than_currency, to_decimal

_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass
class Record:
    line: int
    raw: str
    values: dict[str, str]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (column, message)


@dataclass
class SmallOutcome:
    rows_read: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0
    rows_updated: int = 0  # already in the book, changed by the file (subscriptions)
    errors: list[RowError] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (raw, message)
    customer_ids: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)  # headers the format does not know


class _Tap:
    """Feeds lines to csv.reader and remembers the raw text of the current record."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.buffer: list[str] = []

    def __iter__(self) -> _Tap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.buffer.append(line)
        return line


def _require_utf8(path: Path, label: str) -> None:
    """Refuse a file that is not UTF-8 text, naming the first line that is not."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        error = RowError(label, line, "row", "not UTF-8 text (save the file as UTF-8)")
        raise ImportFileError([error], f"{label}: not UTF-8 text; nothing was imported") from None


def read_records(path: Path, fields: list[Field], label: str) -> tuple[list[str], list[Record]]:
    """The header and every non-blank record, keyed by canonical field name.

    Rows with the wrong number of fields, or a NUL character in a value read, get a problem
    and no values.
    """
    _require_utf8(path, label)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        tap = _Tap(iter(handle))
        reader = csv.reader(tap)
        try:
            header = [h.strip() for h in next(reader, [])]
        except csv.Error as exc:
            error = RowError(label, 1, "header", f"not a CSV header line: {exc}")
            raise ImportFileError([error], f"{label}: the header is not usable") from None
        positions = resolve(header, fields, label)
        records: list[Record] = []
        while True:
            tap.buffer.clear()
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            raw = "".join(tap.buffer)
            if not row or all(not v.strip() for v in row):
                continue
            record = Record(line, raw, {})
            if len(row) < len(header):
                record.problems.append(
                    (
                        header[len(row)],
                        f"missing column: the row has {len(row)} fields, the header {len(header)}",
                    )
                )
            elif len(row) > len(header):
                record.problems.append(
                    ("row", f"too many fields: the row has {len(row)}, the header {len(header)}")
                )
            else:
                # PostgreSQL cannot store or even compare a NUL in text: such a row is bad and
                # gets no values, so no lookup ever sends one.
                nul = [i for i in sorted(positions.values()) if "\x00" in row[i]]
                record.problems.extend((header[i], NUL_MESSAGE) for i in nul)
                if not nul:
                    record.values = {name: row[i].strip() for name, i in positions.items()}
            records.append(record)
    return header, records


class Checker:
    """Per-row value checks that name the column as spelled in the file."""

    def __init__(self, header: list[str], fields: list[Field]) -> None:
        by_norm = {normalise(h): h for h in header}
        known = {normalise(s) for f in fields for s in f.spellings}
        #: The file's columns that no field reads, as spelled in the header (a blank header
        #: named by its position), so a result can say what was not imported.
        self.ignored = [
            h if h else f"column {i} (no name)"
            for i, h in enumerate(header, start=1)
            if normalise(h) not in known
        ]
        self.labels = {}
        for f in fields:
            for s in f.spellings:
                if normalise(s) in by_norm:
                    self.labels[f.name] = by_norm[normalise(s)]
                    break
            else:
                self.labels[f.name] = f.name

    def label(self, name: str) -> str:
        return self.labels[name]

    def text(self, r: Record, name: str, *, required: bool = False, limit: int = 200) -> str | None:
        v = r.values.get(name, "")
        if not v:
            if required:
                r.problems.append((self.label(name), "required value is empty"))
            return None
        if len(v) > limit:
            r.problems.append((self.label(name), f"value longer than {limit} characters"))
            return None
        return v

    def date(self, r: Record, name: str, *, required: bool = False) -> date | None:
        v = self.text(r, name, required=required)
        if v is None:
            return None
        day = parse_day(v)
        if isinstance(day, str):
            r.problems.append((self.label(name), day))
            return None
        return day

    def amount(
        self, r: Record, name: str, *, required: bool = False, currency: str | None = None
    ) -> Decimal | None:
        """A finite amount; in `currency` when given, and then no finer than it allows."""
        v = self.text(r, name, required=required)
        if v is None:
            return None
        try:
            amount = to_decimal(v)
        except ValueError:
            r.problems.append((self.label(name), f"not a finite amount: {v!r}"))
            return None
        too_large = beyond_limit(amount, currency)
        if too_large is not None:
            r.problems.append((self.label(name), too_large))
            return None
        finer = None if currency is None else finer_than_currency(amount, currency)
        if finer is not None:
            r.problems.append((self.label(name), finer))
            return None
        return amount

    def currency(self, r: Record, name: str) -> str | None:
        v = self.text(r, name, required=True)
        if v is not None and v not in CURRENCIES:
            r.problems.append(
                (self.label(name), f"unknown currency {v!r} (expected an ISO 4217 code)")
            )
            return None
        return v

    def boolean(self, r: Record, name: str) -> bool | None:
        """true/false, yes/no, 1/0 (any case); None when empty."""
        v = self.text(r, name, limit=16)
        if v is None:
            return None
        found = _BOOLEANS.get(v.lower())
        if found is None:
            r.problems.append(
                (self.label(name), f"not true or false: {v!r} (expected true/false, yes/no, 1/0)")
            )
        return found

    def integer(self, r: Record, name: str, *, minimum: int = 0) -> int | None:
        v = self.text(r, name)
        if v is None:
            return None
        if not re.fullmatch(r"[+-]?\d{1,9}", v) or int(v) < minimum:
            r.problems.append((self.label(name), f"not a whole number >= {minimum}: {v!r}"))
            return None
        return int(v)

    def customer(
        self, r: Record, name: str, customers: dict[str, tuple[int, str]], currency: str | None
    ) -> int | None:
        v = self.text(r, name, required=True, limit=64)
        if v is None:
            return None
        found = customers.get(v.lower())
        if found is None:
            r.problems.append((self.label(name), f"unknown customer {v!r}"))
            return None
        if currency is not None and currency != found[1]:
            r.problems.append(
                (
                    self.label("currency"),
                    f"currency {currency} differs from the customer's {found[1]}",
                )
            )
        return found[0]


def customers_by_key(session: Session) -> dict[str, tuple[int, str]]:
    rows = session.execute(select(Customer.provider_customer_id, Customer.id, Customer.currency))
    return {pid.lower(): (cid, cur) for pid, cid, cur in rows}


def finish(out: SmallOutcome, records: list[Record], label: str) -> None:
    for r in records:
        for column, message in r.problems:
            out.errors.append(RowError(label, r.line, column, message))
        if r.problems:
            out.rejected.append((r.raw, "; ".join(f"{c}: {m}" for c, m in r.problems)))
    out.errors.sort(key=lambda e: e.line)


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0
