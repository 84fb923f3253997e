"""The reseller's own files: `customers`, `invoices`, `payments` (small; read with Python csv).

These files are a few thousand rows, so they are read whole and checked row by row; the
columns are riskdesk's own (see docs/imports.md). Dates are ISO `YYYY-MM-DD`; amounts are
decimals in the row's currency.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from riskdesk.db.models import Customer, Invoice, InvoiceLine, Payment, Subscription
from riskdesk.imports.errors import ImportFileError, RowError
from riskdesk.imports.headers import Field, normalise, resolve
from riskdesk.money import CURRENCIES, decimal_to_micros, to_decimal

_MAX_MICROS = 2**63 - 1
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
    errors: list[RowError] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (raw, message)
    customer_ids: set[int] = field(default_factory=set)


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

    Rows with the wrong number of fields get a problem and no values.
    """
    _require_utf8(path, label)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        tap = _Tap(iter(handle))
        reader = csv.reader(tap)
        header = [h.strip() for h in next(reader, [])]
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
                record.values = {name: row[i].strip() for name, i in positions.items()}
            records.append(record)
    return header, records


class Checker:
    """Per-row value checks that name the column as spelled in the file."""

    def __init__(self, header: list[str], fields: list[Field]) -> None:
        by_norm = {normalise(h): h for h in header}
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
        try:
            return date.fromisoformat(v)
        except ValueError:
            r.problems.append((self.label(name), f"not a date: {v!r} (expected YYYY-MM-DD)"))
            return None

    def amount(self, r: Record, name: str, *, required: bool = False) -> Decimal | None:
        v = self.text(r, name, required=required)
        if v is None:
            return None
        try:
            amount = to_decimal(v)
        except ValueError:
            r.problems.append((self.label(name), f"not a finite amount: {v!r}"))
            return None
        if abs(decimal_to_micros(amount)) > _MAX_MICROS:
            r.problems.append((self.label(name), f"amount too large: {v!r}"))
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


def _customers(session: Session) -> dict[str, tuple[int, str]]:
    rows = session.execute(select(Customer.provider_customer_id, Customer.id, Customer.currency))
    return {pid.lower(): (cid, cur) for pid, cid, cur in rows}


def _finish(out: SmallOutcome, records: list[Record], label: str) -> None:
    for r in records:
        for column, message in r.problems:
            out.errors.append(RowError(label, r.line, column, message))
        if r.problems:
            out.rejected.append((r.raw, "; ".join(f"{c}: {m}" for c, m in r.problems)))
    out.errors.sort(key=lambda e: e.line)


# --------------------------------------------------------------------------- customers

CUSTOMER_FIELDS = [
    Field("provider_customer_id", ("customer_id", "tenant_id", "customer"), required=True),
    Field("name", ("customer_name",), required=True),
    Field("domain"),
    Field("country"),
    Field("billing_email", ("email",)),
    Field("currency", required=True),
    Field("payment_terms_days", ("terms_days", "payment_terms")),
    Field("credit_limit"),
    Field("tags"),
    Field("created_on"),
]


def import_customers(session: Session, path: Path, label: str, skip_bad_rows: bool):
    header, records = read_records(path, CUSTOMER_FIELDS, label)
    check = Checker(header, CUSTOMER_FIELDS)
    known = _customers(session)
    out = SmallOutcome(rows_read=len(records))
    seen: dict[str, int] = {}
    rows = []
    for r in records:
        if r.problems:
            continue
        pid = check.text(r, "provider_customer_id", required=True, limit=64)
        name = check.text(r, "name", required=True)
        currency = check.currency(r, "currency")
        country = check.text(r, "country", limit=2)
        if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
            r.problems.append((check.label("country"), f"not a 2-letter country code: {country!r}"))
        email = check.text(r, "billing_email", limit=254)
        if email is not None and not _EMAIL.match(email):
            r.problems.append((check.label("billing_email"), f"not an e-mail address: {email!r}"))
        terms = check.integer(r, "payment_terms_days")
        limit = check.amount(r, "credit_limit")
        if limit is not None and limit < 0:
            r.problems.append((check.label("credit_limit"), "negative credit limit"))
        created = check.date(r, "created_on")
        tags = [t.strip() for t in r.values.get("tags", "").split(";") if t.strip()]
        if pid is not None:
            if pid.lower() in seen:
                r.problems.append(
                    (check.label("provider_customer_id"), f"duplicate of line {seen[pid.lower()]}")
                )
            seen.setdefault(pid.lower(), r.line)
        if r.problems:
            continue
        if pid.lower() in known:
            out.rows_duplicate += 1
            continue
        rows.append(
            {
                "provider_customer_id": pid,
                "name": name,
                "domain": check.text(r, "domain"),
                "country": country.upper() if country else None,
                "billing_email": email,
                "currency": currency,
                "payment_terms_days": 30 if terms is None else terms,
                "credit_limit": limit,
                "tags": tags,
                "created_on": created or date.today(),
            }
        )
    _finish(out, records, label)
    if rows and (skip_bad_rows or not out.errors):
        session.execute(insert(Customer), rows)
        out.rows_inserted = len(rows)
    return out


# --------------------------------------------------------------------------- invoices

INVOICE_FIELDS = [
    Field("invoice_number", ("number", "invoice"), required=True),
    Field("customer", ("provider_customer_id", "customer_id"), required=True),
    Field("issued_on", ("invoice_date",), required=True),
    Field("due_on", ("due_date",), required=True),
    Field("period_start"),
    Field("period_end"),
    Field("currency", required=True),
    Field("line_no", ("line",)),
    Field("description", required=True),
    Field("subscription", ("provider_subscription_id", "subscription_id")),
    Field("quantity"),
    Field("amount", required=True),
]
_INVOICE_HEAD = ("customer", "issued_on", "due_on", "period_start", "period_end", "currency")


def import_invoices(session: Session, path: Path, label: str, skip_bad_rows: bool):
    header, records = read_records(path, INVOICE_FIELDS, label)
    check = Checker(header, INVOICE_FIELDS)
    customers = _customers(session)
    subscriptions = {
        pid.lower(): (sid, cid)
        for pid, sid, cid in session.execute(
            select(Subscription.provider_subscription_id, Subscription.id, Subscription.customer_id)
        )
    }
    out = SmallOutcome(rows_read=len(records))
    invoices: dict[str, list[tuple[Record, dict]]] = {}
    first_line: dict[str, Record] = {}
    for r in records:
        if r.problems:
            number = r.values.get("invoice_number")
            if number:
                invoices.setdefault(number, []).append((r, {}))
            continue
        number = check.text(r, "invoice_number", required=True, limit=64)
        currency = check.currency(r, "currency")
        customer_id = check.customer(r, "customer", customers, currency)
        issued = check.date(r, "issued_on", required=True)
        due = check.date(r, "due_on", required=True)
        if issued and due and due < issued:
            r.problems.append((check.label("due_on"), f"due date {due} is before issue {issued}"))
        start = check.date(r, "period_start")
        end = check.date(r, "period_end")
        if start and end and end < start:
            r.problems.append((check.label("period_end"), f"period ends {end} before it starts"))
        line_no = check.integer(r, "line_no", minimum=1)
        description = check.text(r, "description", required=True, limit=300)
        quantity = check.amount(r, "quantity")
        if quantity is not None and quantity < 0:
            r.problems.append((check.label("quantity"), f"negative quantity {quantity}"))
        amount = check.amount(r, "amount", required=True)
        subscription_id = None
        sub = check.text(r, "subscription", limit=64)
        if sub is not None:
            found = subscriptions.get(sub.lower())
            if found is None:
                r.problems.append((check.label("subscription"), f"unknown subscription {sub!r}"))
            elif customer_id is not None and found[1] != customer_id:
                r.problems.append(
                    (check.label("subscription"), f"subscription {sub!r} is another customer's")
                )
            else:
                subscription_id = found[0]
        if number is None:
            continue
        head = first_line.setdefault(number, r)
        if head is not r and not head.problems:
            for name in _INVOICE_HEAD:
                if r.values.get(name, "") != head.values.get(name, ""):
                    r.problems.append(
                        (check.label(name), f"differs from line {head.line} of invoice {number}")
                    )
        invoices.setdefault(number, []).append(
            (
                r,
                {
                    "customer_id": customer_id,
                    "issued_on": issued,
                    "due_on": due,
                    "period_start": start,
                    "period_end": end,
                    "currency": currency,
                    "line_no": line_no,
                    "description": description,
                    "subscription_id": subscription_id,
                    "quantity": Decimal(1) if quantity is None else quantity,
                    "amount": amount,
                },
            )
        )
    existing = set()
    numbers = list(invoices)
    for i in range(0, len(numbers), 500):
        existing.update(
            session.scalars(select(Invoice.number).where(Invoice.number.in_(numbers[i : i + 500])))
        )
    new_invoices = []
    for number, lines in invoices.items():
        seen_no: dict[int, int] = {}
        for position, (r, v) in enumerate(lines, start=1):
            if v and v["line_no"] is None:
                v["line_no"] = position
            if v and v["line_no"] is not None:
                if v["line_no"] in seen_no:
                    r.problems.append(
                        (
                            check.label("line_no"),
                            f"duplicate line_no, see line {seen_no[v['line_no']]}",
                        )
                    )
                seen_no.setdefault(v["line_no"], r.line)
        bad = [r for r, _ in lines if r.problems]
        if bad:
            for r, _ in lines:
                if not r.problems:
                    r.problems.append(
                        (
                            check.label("invoice_number"),
                            f"invoice {number} has a bad row on line {bad[0].line}",
                        )
                    )
            continue
        if number in existing:
            out.rows_duplicate += len(lines)
            continue
        head = lines[0][1]
        invoice = Invoice(
            customer_id=head["customer_id"],
            number=number,
            issued_on=head["issued_on"],
            due_on=head["due_on"],
            period_start=head["period_start"],
            period_end=head["period_end"],
            currency=head["currency"],
            total=sum((v["amount"] for _, v in lines), Decimal(0)),
            lines=[
                InvoiceLine(
                    line_no=v["line_no"],
                    description=v["description"],
                    subscription_id=v["subscription_id"],
                    quantity=v["quantity"],
                    amount=v["amount"],
                )
                for _, v in lines
            ],
        )
        new_invoices.append(invoice)
        out.customer_ids.add(head["customer_id"])
        out.rows_inserted += len(lines)
    _finish(out, records, label)
    if new_invoices and (skip_bad_rows or not out.errors):
        session.add_all(new_invoices)
        session.flush()
    else:
        out.rows_inserted = 0
    return out


# --------------------------------------------------------------------------- payments

PAYMENT_FIELDS = [
    Field("reference", ("payment_reference", "payment_id"), required=True),
    Field("customer", ("provider_customer_id", "customer_id"), required=True),
    Field("received_on", ("payment_date", "date"), required=True),
    Field("currency", required=True),
    Field("amount", required=True),
    Field("method"),
    Field("invoice_numbers", ("invoices", "applies_to")),
]


def import_payments(session: Session, path: Path, label: str, skip_bad_rows: bool):
    header, records = read_records(path, PAYMENT_FIELDS, label)
    check = Checker(header, PAYMENT_FIELDS)
    customers = _customers(session)
    out = SmallOutcome(rows_read=len(records))
    named = {
        n.strip()
        for r in records
        for n in r.values.get("invoice_numbers", "").split(";")
        if n.strip()
    }
    invoice_owner: dict[str, int] = {}
    names = sorted(named)
    for i in range(0, len(names), 500):
        query = select(Invoice.number, Invoice.customer_id).where(
            Invoice.number.in_(names[i : i + 500])
        )
        invoice_owner.update((number, owner) for number, owner in session.execute(query))
    refs = [r.values.get("reference", "") for r in records if r.values.get("reference")]
    existing: set[str] = set()
    for i in range(0, len(refs), 500):
        existing.update(
            session.scalars(
                select(Payment.reference).where(Payment.reference.in_(refs[i : i + 500]))
            )
        )
    seen: dict[str, int] = {}
    rows = []
    for r in records:
        if r.problems:
            continue
        reference = check.text(r, "reference", required=True, limit=64)
        currency = check.currency(r, "currency")
        customer_id = check.customer(r, "customer", customers, currency)
        received = check.date(r, "received_on", required=True)
        amount = check.amount(r, "amount", required=True)
        if amount is not None and decimal_to_micros(amount) <= 0:
            r.problems.append((check.label("amount"), f"a payment must be positive, not {amount}"))
        method = check.text(r, "method", limit=32)
        applies = [n.strip() for n in r.values.get("invoice_numbers", "").split(";") if n.strip()]
        for number in applies:
            owner = invoice_owner.get(number)
            if owner is None:
                r.problems.append((check.label("invoice_numbers"), f"unknown invoice {number!r}"))
            elif customer_id is not None and owner != customer_id:
                r.problems.append(
                    (check.label("invoice_numbers"), f"invoice {number!r} is another customer's")
                )
        if reference is not None:
            if reference in seen:
                r.problems.append(
                    (check.label("reference"), f"duplicate of line {seen[reference]}")
                )
            seen.setdefault(reference, r.line)
        if r.problems:
            continue
        if reference in existing:
            out.rows_duplicate += 1
            continue
        rows.append(
            {
                "customer_id": customer_id,
                "reference": reference,
                "received_on": received,
                "currency": currency,
                "amount": amount,
                "method": method,
                "applies_to": applies,
            }
        )
        out.customer_ids.add(customer_id)
    _finish(out, records, label)
    if rows and (skip_bad_rows or not out.errors):
        session.execute(insert(Payment), rows)
        out.rows_inserted = len(rows)
    return out


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0
