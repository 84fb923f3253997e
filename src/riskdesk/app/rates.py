"""Exchange rates: importing the reseller's rates file, the table the facts convert usage with.

The file is CSV with a header naming the columns `from`, `to`, `rate`, `day` and `source`
(any order, any letter case; other columns are ignored): 1 `from` = `rate` `to` on `day`
(exactly YYYY-MM-DD, 2000-01-01 .. 2099-12-31: `imports.dates.parse_day`, the rule of every
imported day), as stated by `source` (blank: the file's name). A rate is a positive finite
decimal between 1e-12 and 1e12 of at most 40 characters written out
(`db.models.rates.canonical_rate`). Bad input is one error naming
the line and column of every problem (up to ten), and nothing is written. A pair and day
already in the table takes the file's rate and source (counted as replaced).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, tuple_

from riskdesk import audit
from riskdesk.app.deps import Deps
from riskdesk.db.engine import session_scope
from riskdesk.db.models import ExchangeRate
from riskdesk.db.models.rates import canonical_rate
from riskdesk.errors import InvalidInputError
from riskdesk.imports.dates import parse_day
from riskdesk.money import check_currency

COLUMNS = ("from", "to", "rate", "day", "source")
_SHOWN = 10


@dataclass(frozen=True)
class RateRow:
    line: int
    from_currency: str
    to_currency: str
    rate: Decimal
    day: date
    source: str


@dataclass(frozen=True)
class RatesImportResult:
    file: str
    rows: int
    added: int
    replaced: int
    unchanged: int


def _refuse(path: Path, problems: list[str]) -> InvalidInputError:
    more = len(problems) - _SHOWN
    shown = "; ".join(problems[:_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    noun = "problem" if len(problems) == 1 else "problems"
    return InvalidInputError(f"{path}: {len(problems)} {noun}, nothing imported: {shown}")


def read_rates(path: Path) -> list[RateRow]:
    """The rows of a rates file, every one checked; InvalidInputError naming line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise InvalidInputError(f"{path}: empty file (expected a header: {', '.join(COLUMNS)})")
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InvalidInputError(
            f"{path}: line 1: missing column {', '.join(missing)} (expected {', '.join(COLUMNS)})"
        )
    where = {c: names.index(c) for c in COLUMNS}
    problems: list[str] = []
    rows: list[RateRow] = []
    first_line: dict[tuple[str, str, date], int] = {}
    for line, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) < len(header):
            fields = fields + [""] * (len(header) - len(fields))
        cell = {c: fields[where[c]].strip() for c in COLUMNS}
        bad = len(problems)
        currencies = []
        for column in ("from", "to"):
            try:
                currencies.append(check_currency(cell[column].upper()))
            except ValueError:
                problems.append(
                    f"line {line}, column {column}: unknown currency {cell[column]!r} "
                    "(expected an ISO 4217 code)"
                )
        if len(currencies) == 2 and currencies[0] == currencies[1]:
            problems.append(f"line {line}, column to: the same currency as column from")
        try:
            rate = Decimal(canonical_rate(cell["rate"]))
        except ValueError as exc:
            problems.append(f"line {line}, column rate: {exc}")
        day = parse_day(cell["day"])
        if isinstance(day, str):
            problems.append(f"line {line}, column day: {day}")
        source = cell["source"] or path.name
        if len(source) > 200:
            problems.append(f"line {line}, column source: longer than 200 characters")
        if len(problems) > bad or isinstance(day, str):
            continue
        key = (currencies[0], currencies[1], day)
        if key in first_line:
            problems.append(
                f"line {line}: a second {key[0]}->{key[1]} rate for {day.isoformat()} "
                f"(first on line {first_line[key]})"
            )
            continue
        first_line[key] = line
        rows.append(RateRow(line, currencies[0], currencies[1], rate, day, source[:200]))
    if problems:
        raise _refuse(path, problems)
    if not rows:
        raise InvalidInputError(f"{path}: no rates (only a header)")
    return rows


def import_rates(deps: Deps, path: Path, *, actor: str) -> RatesImportResult:
    """Check the whole rates file, then write it in one transaction with its audit event."""
    rows = read_rates(path)
    added = replaced = unchanged = 0
    with session_scope(deps.engine()) as session:
        keys = [(r.from_currency, r.to_currency, r.day) for r in rows]
        existing: dict[tuple[str, str, date], ExchangeRate] = {}
        pair_day = tuple_(ExchangeRate.from_currency, ExchangeRate.to_currency, ExchangeRate.day)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for rate in session.scalars(select(ExchangeRate).where(pair_day.in_(chunk))):
                existing[(rate.from_currency, rate.to_currency, rate.day)] = rate
        for r in rows:
            old = existing.get((r.from_currency, r.to_currency, r.day))
            if old is None:
                session.add(
                    ExchangeRate(
                        from_currency=r.from_currency,
                        to_currency=r.to_currency,
                        day=r.day,
                        rate=r.rate,
                        source=r.source,
                    )
                )
                added += 1
            elif old.rate == r.rate and old.source == r.source:
                unchanged += 1
            else:
                old.rate, old.source = r.rate, r.source
                replaced += 1
        result = RatesImportResult(str(path), len(rows), added, replaced, unchanged)
        audit.record(
            session,
            actor=actor,
            action="rates.imported",
            subject_type="exchange_rates",
            data={
                "file": str(path),
                "rows": len(rows),
                "added": added,
                "replaced": replaced,
                "unchanged": unchanged,
            },
            occurred_at=deps.now(),
        )
    return result
