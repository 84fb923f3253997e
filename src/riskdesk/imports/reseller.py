"""The reseller's own files: `customers`, `invoices`, `payments` (small; read with Python csv).

These files are a few thousand rows, so they are read whole and checked row by row; the
columns are riskdesk's own (see docs/imports.md). Dates are ISO `YYYY-MM-DD`; amounts are
decimals in the row's currency. Reading and the per-row checks are in `reseller_rows`,
invoices in `reseller_invoices`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from riskdesk.book.payments import payment_problems, reference_key, reference_key_sql
from riskdesk.db.models import Customer, Invoice, Payment
from riskdesk.imports.headers import Field
from riskdesk.imports.reseller_invoices import INVOICE_FIELDS, import_invoices
from riskdesk.imports.reseller_rows import (
    Checker,
    SmallOutcome,
    count,
    customers_by_key,
    finish,
    read_records,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

__all__ = [
    "CUSTOMER_FIELDS",
    "INVOICE_FIELDS",
    "PAYMENT_FIELDS",
    "count",
    "import_customers",
    "import_invoices",
    "import_payments",
]

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


def import_customers(
    session: Session,
    path: Path,
    label: str,
    skip_bad_rows: bool,
    *,
    actor: str = "riskdesk",
    today: date,
) -> SmallOutcome:
    header, records = read_records(path, CUSTOMER_FIELDS, label)
    check = Checker(header, CUSTOMER_FIELDS)
    known = customers_by_key(session)
    out = SmallOutcome(rows_read=len(records), ignored_columns=check.ignored)
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
        if r.problems or pid is None:
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
                "created_on": created or today,
            }
        )
    finish(out, records, label)
    if rows and (skip_bad_rows or not out.errors):
        session.execute(insert(Customer), rows)
        out.rows_inserted = len(rows)
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


def import_payments(
    session: Session,
    path: Path,
    label: str,
    skip_bad_rows: bool,
    *,
    actor: str = "riskdesk",
    today: date,
) -> SmallOutcome:
    header, records = read_records(path, PAYMENT_FIELDS, label)
    check = Checker(header, PAYMENT_FIELDS)
    customers = customers_by_key(session)
    out = SmallOutcome(rows_read=len(records), ignored_columns=check.ignored)
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
    # A reference already recorded, or earlier in the file, by `reference_key` (blanks
    # around it and the letter case of A-Z do not count): the rule of `payments record`.
    refs = sorted(
        {reference_key(r.values["reference"]) for r in records if r.values.get("reference")}
    )
    existing: set[str] = set()
    key_sql = reference_key_sql(session)
    for i in range(0, len(refs), 500):
        existing.update(
            reference_key(ref)
            for ref in session.scalars(
                select(Payment.reference).where(key_sql.in_(refs[i : i + 500]))
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
        amount = check.amount(r, "amount", required=True, currency=currency)
        # The rules `payments record` applies: not after today, within the storage limit,
        # positive, no finer than the currency allows.
        for name, message in payment_problems(amount, currency, received, today=today):
            r.problems.append((check.label(name), message))
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
        key = None if reference is None else reference_key(reference)
        if key is not None:
            if key in seen:
                r.problems.append((check.label("reference"), f"duplicate of line {seen[key]}"))
            seen.setdefault(key, r.line)
        if r.problems or customer_id is None:
            continue
        if key in existing:
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
    finish(out, records, label)
    if rows and (skip_bad_rows or not out.errors):
        session.execute(insert(Payment), rows)
        out.rows_inserted = len(rows)
    return out
