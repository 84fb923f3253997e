"""Fuzzing every importer: any file either imports or is refused with a RiskdeskError, and a
refused file writes nothing (no row, no ImportRun, no audit event, no reject file).

Files are CSV-ish text built from the formats' real column names (in any order, with
aliases, case changes, duplicates and strangers) and cells that are good values, near
misses, huge, NUL, control and any unicode, numbers like 1e999999999, or arbitrary bytes.
All on one real book (SQLite; PostgreSQL too when RISKDESK_TEST_DATABASE_URL is set: it
refuses a NUL in text, which SQLite stores) with two customers, an invoice and a
subscription, so lookups can succeed. Examples per test come from the hypothesis profile
(100 by default, 25 with `fast`); the whole file runs in about 25 s on both databases.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from conftest import POSTGRES_URL, _postgres_url_with_schema
from riskdesk.db.engine import make_engine, migrate, session_scope
from riskdesk.db.models import (
    AuditEvent,
    Customer,
    ImportRun,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    ProviderInvoiceLine,
    Subscription,
    UsageRecord,
)
from riskdesk.errors import RiskdeskError
from riskdesk.imports import import_file
from riskdesk.imports.headers import normalise
from riskdesk.imports.pc_columns import DAILY_RATED_USAGE, INVOICE_RECONCILIATION
from riskdesk.imports.pc_invoice import FIELDS as PC_INVOICE_FIELDS
from riskdesk.imports.pc_usage import FIELDS as PC_USAGE_FIELDS
from riskdesk.imports.reseller import CUSTOMER_FIELDS, INVOICE_FIELDS, PAYMENT_FIELDS
from riskdesk.imports.reseller_subscriptions import SUBSCRIPTION_FIELDS

T1 = "196e2273-9651-43a3-ba7e-7cbcd918fc40"
T2 = "0c5b1e41-2f0b-4c9e-9d51-1a8f3e0b7c22"
TODAY = date(2026, 4, 10)
_counter = itertools.count()

FIELDS = {
    "customers": CUSTOMER_FIELDS,
    "subscriptions": SUBSCRIPTION_FIELDS,
    "invoices": INVOICE_FIELDS,
    "payments": PAYMENT_FIELDS,
    "pc-usage": PC_USAGE_FIELDS,
    "pc-invoice": PC_INVOICE_FIELDS,
}
FULL_HEADERS = {"pc-usage": DAILY_RATED_USAGE, "pc-invoice": INVOICE_RECONCILIATION}
TABLES = (
    Customer, Subscription, Invoice, InvoiceLine, Payment, PaymentAllocation,
    UsageRecord, ProviderInvoiceLine, ImportRun, AuditEvent,
)  # fmt: skip
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

GOOD = [
    T1, T2, T1.upper(), "EUR", "GBP", "JPY", "KWD", "XXX", "eur",
    "2026-01-05", "2026-04-10", "2026-04-11", "1/5/2026", "12/31/2025", "2/30/2026", "2000-01-01",
    "2099-12-31", "20261001", "2026-W40-1", "0001-01-01", "9999-12-31", "1/5/0001",
    "10", "10.50", "-5", "0", "0.5", "10.1234567891", "1.5E-05", "1e999999999", "-1e-999999999",
    "9" * 40, "0." + "0" * 30 + "1", "NaN", "Infinity", "-inf", "12,50", "1_000", "+7", "٣",
    "INV-1", "S1", "O1", "P1", "true", "no", "maybe", "seat", "consumption", "monthly", "active",
    "new", "cancelInstance", "1 Hour", "a@b.co", "DE", "gold; new", "INV-1;INV-2", "",
]  # fmt: skip
good = st.sampled_from(GOOD)
NASTY = [
    "1e999999999", "-1e-999999999", "1E+999999", "0E+999999999", "1e-7", "-0", "9" * 40,
    "999999999999.9999995", "9223372036854.775807", "1/1/1", "99/99/9999", "2026-13-01",
    "2026-04-10T25:99", " 1/5/2026 ", "1/5/2026 12:00:00 AM", "１０", "1e5", "1.", ".5", "-.5",
]  # fmt: skip
cells = st.one_of(
    good,
    good,
    st.sampled_from(NASTY),
    st.text(max_size=12),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["\x00", "a\x00b", '"', '""', "\r", "\n", "a\r\nb", ",", "\ufeff", "\u2028"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["9", "x", "é", "\x00"]), st.sampled_from([300, 5_000])
    ),
)  # fmt: skip


#: A valid value of each field, per kind (ids are made unique per row, so rows can land).
VALID = {
    "customers": {"provider_customer_id": "{id}", "name": "N", "domain": "n.example",
                  "country": "DE", "billing_email": "a@n.example", "currency": "EUR",
                  "payment_terms_days": "14", "credit_limit": "100", "tags": "a; b",
                  "created_on": "2026-01-01"},
    "subscriptions": {"subscription": "{id}", "customer": T1, "offer_id": "O1",
                      "offer_name": "Office", "kind": "seat", "quantity": "3",
                      "unit_price": "1.50", "currency": "EUR", "billing_cycle": "monthly",
                      "status": "active", "created_on": "2026-01-01"},
    "invoices": {"invoice_number": "{id}", "customer": T1, "issued_on": "2026-01-01",
                 "due_on": "2026-01-31", "period_start": "2026-01-01",
                 "period_end": "2026-01-31", "currency": "EUR", "line_no": "1",
                 "description": "seats", "subscription": "S1", "quantity": "1",
                 "amount": "10", "disputed": "no"},
    "payments": {"reference": "{id}", "customer": T1, "received_on": "2026-04-01",
                 "currency": "EUR", "amount": "5", "method": "sepa",
                 "invoice_numbers": "INV-1"},
    "pc-usage": {"CustomerId": T1, "SubscriptionId": "{id}", "EntitlementId": "e1",
                 "UsageDate": "1/5/2026", "MeterId": "m1", "MeterCategory": "VM",
                 "MeterName": "D2", "Unit": "1 Hour", "ResourceLocation": "westeurope",
                 "MeterRegion": "EU West", "Quantity": "24", "BillingPreTaxTotal": "2.304",
                 "BillingCurrency": "EUR", "InvoiceNumber": "G1", "ResourceURI": "/r",
                 "ChargeType": "new", "UnitType": "1 Hour"},
    "pc-invoice": {"InvoiceNumber": "G1", "CustomerId": T1, "SubscriptionId": "{id}",
                   "OrderId": "o1", "ProductId": "p1", "SkuId": "0001", "SkuName": "E3",
                   "ProductName": "E3", "ChargeType": "new", "ChargeStartDate": "10/3/2025",
                   "ChargeEndDate": "11/2/2025", "UnitPrice": "32.4", "Quantity": "10",
                   "BillableQuantity": "10", "Subtotal": "324", "TaxTotal": "61.56",
                   "Total": "385.56", "Currency": "EUR", "AlternateId": "a1"},
}  # fmt: skip


def _field_of(kind: str, column: str) -> str | None:
    for f in FIELDS[kind]:
        if normalise(column) in {normalise(s) for s in f.spellings}:
            return f.name
    return None


@st.composite
def _near_valid_rows(draw, kind: str, header: list[str]) -> list[str]:
    """A valid row for `header` with a few cells replaced by fuzzed ones."""
    ident = draw(st.sampled_from(["S1", "INV-1", "P1", T2])) if draw(st.booleans()) else None
    ident = ident or f"X{next(_counter)}"
    row = []
    for column in header:
        name = _field_of(kind, column)
        row.append(VALID[kind].get(name, "").replace("{id}", ident) if name else "")
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        if row:
            row[draw(st.integers(min_value=0, max_value=len(row) - 1))] = draw(cells)
    return row


@st.composite
def csv_files(draw, kind: str) -> bytes:
    """A header from the format's column names (any order, case, aliases, strangers, the full
    Partner Center header sometimes) and rows of fuzzed cells, written as CSV, sometimes broken
    at the byte level."""
    spellings = [s for f in FIELDS[kind] for s in f.spellings]
    mode = draw(st.sampled_from(["usable", "usable", "usable", "messy", "full"]))
    if mode == "full" and kind in FULL_HEADERS:
        header = list(FULL_HEADERS[kind])
    elif mode == "messy":
        required = [f.name for f in FIELDS[kind] if f.required]
        chosen = draw(st.lists(st.sampled_from(spellings), max_size=len(spellings)))
        header = (required if draw(st.booleans()) else []) + chosen
        header = draw(st.permutations(header)) if header else header
    else:  # each field at most once, in some spelling: the rows get checked
        header = [
            draw(st.sampled_from(f.spellings))
            for f in FIELDS[kind]
            if f.required or draw(st.booleans())
        ]
        header = draw(st.permutations(header))
    header = [
        draw(st.sampled_from([h, h.upper(), h.lower(), f" {h} ", h.replace("_", " ")]))
        for h in header
    ]
    header += draw(
        st.lists(st.one_of(st.text(max_size=8), st.sampled_from(["", "amout"])), max_size=2)
    )
    width = len(header)
    row = st.one_of(
        _near_valid_rows(kind, header),
        _near_valid_rows(kind, header),
        st.lists(cells, min_size=width, max_size=width),
        st.lists(cells, min_size=max(width - 1, 0), max_size=width + 1),
    )
    rows = draw(st.lists(row, max_size=4))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    if draw(st.booleans()):  # a byte-level accident: cut, insert, BOM
        where = draw(st.integers(min_value=0, max_value=len(data)))
        accident = draw(
            st.sampled_from([b"", b"\xff\xfe", b"\x00", b"\xef\xbb\xbf", b'"', b"\xc3"])
        )
        data = data[:where] + accident + data[where + draw(st.integers(0, 3)) :]
    return data


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(request, tmp_path_factory):
    """A real book (SQLite; PostgreSQL too when configured, see conftest) with two
    customers, an invoice and a subscription."""
    folder = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'book.db'}")
    else:
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL: set RISKDESK_TEST_DATABASE_URL to run (see README)")
        schema = f"rdfuzz_{uuid.uuid4().hex[:12]}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        request.addfinalizer(admin.dispose)
        request.addfinalizer(lambda: _drop(admin, schema))
        engine = make_engine(_postgres_url_with_schema(schema))
    migrate(engine)
    seed = {
        "customers": f"provider_customer_id,name,currency\n{T1},Contoso,EUR\n{T2},Yen KK,JPY\n",
        "subscriptions": f"subscription,customer,offer_id\nS1,{T1},O1\n",
        "invoices": "invoice_number,customer,issued_on,due_on,currency,description,amount\n"
        f"INV-1,{T1},2026-01-01,2026-01-31,EUR,seats,100\n",
    }
    for kind, content in seed.items():
        path = folder / f"seed-{kind}.csv"
        path.write_text(content)
        import_file(engine, kind, path, today=TODAY)
    yield engine, folder
    engine.dispose()


def _drop(admin, schema: str) -> None:
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _counts(engine) -> tuple[int, ...]:
    with session_scope(engine) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0 for model in TABLES
        )


def _import_or_refuse(book, kind: str, data: bytes, skip_bad_rows: bool, block: int | None):
    engine, folder = book
    n = next(_counter)
    path = folder / f"{n}.csv"
    path.write_bytes(data)
    rejects = folder / f"{n}.rejects.csv"
    before = _counts(engine)
    try:
        import_file(
            engine,
            kind,
            path,
            skip_bad_rows=skip_bad_rows,
            reject_path=rejects,
            today=TODAY,
            block_size=block,
            batch_rows=None if block is None else 2,
        )
        event(f"{kind} imported")
    except RiskdeskError as exc:
        event(f"{kind} refused: {type(exc).__name__}")
        assert _counts(engine) == before, "a refused file wrote rows"
        assert not rejects.exists(), "a refused file wrote a reject file"
    # Anything else (a traceback) is a bug: it propagates and fails the test.


@FUZZ
@given(
    data=st.data(),
    kind=st.sampled_from(["customers", "subscriptions", "invoices", "payments"]),
    skip_bad_rows=st.booleans(),
)
def test_reseller_files_import_or_are_refused_with_a_riskdesk_error(
    book, data, kind, skip_bad_rows
):
    _import_or_refuse(book, kind, data.draw(csv_files(kind)), skip_bad_rows, None)


@FUZZ
@given(
    data=st.data(),
    kind=st.sampled_from(["pc-usage", "pc-invoice"]),
    skip_bad_rows=st.booleans(),
    block=st.sampled_from([None, 64, 1024]),
)
def test_provider_exports_import_or_are_refused_with_a_riskdesk_error(
    book, data, kind, skip_bad_rows, block
):
    _import_or_refuse(book, kind, data.draw(csv_files(kind)), skip_bad_rows, block)


@FUZZ
@given(
    kind=st.sampled_from(list(FIELDS)),
    data=st.binary(max_size=300),
    skip_bad_rows=st.booleans(),
)
def test_arbitrary_bytes_import_or_are_refused_with_a_riskdesk_error(
    book, kind, data, skip_bad_rows
):
    _import_or_refuse(book, kind, data, skip_bad_rows, None)
