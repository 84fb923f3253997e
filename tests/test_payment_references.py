"""One payment is one reference, however it is typed: blanks around a reference never count
and neither does the letter case of A-Z, on every path a reference enters (`payments record`,
`import payments`, `payments reverse`); the stored reference keeps the spelling first given.
On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from riskdesk.db.engine import session_scope
from riskdesk.db.models import Payment
from riskdesk.imports import ImportFileError, import_file
from test_imports_reseller import T1, load_customers, write
from test_payment_reversal import STANDARD, invoke

HEADER = ["reference", "customer", "received_on", "currency", "amount"]


def _record(database_url, reference: str, amount: str = "25"):
    return invoke(
        database_url,
        "payments",
        "record",
        T1,
        amount,
        "EUR",
        "--reference",
        reference,
        "--received-on",
        "2026-02-10",
        "--no-execute",
        "--policy",
        str(STANDARD),
    )


def _payments(engine) -> list[tuple[str, Decimal]]:
    with session_scope(engine) as s:
        return [(p.reference, p.amount) for p in s.scalars(select(Payment).order_by(Payment.id))]


def _file(tmp_path: Path, *refs: str) -> Path:
    return write(
        tmp_path / "payments.csv", HEADER, [[ref, T1, "2026-02-10", "EUR", "25"] for ref in refs]
    )


def test_a_reference_recorded_with_blanks_is_the_same_payment_when_imported(
    database_url, engine, tmp_path
):
    load_customers(engine, tmp_path)
    assert _record(database_url, "BANK-77 ").exit_code == 0
    result = import_file(engine, "payments", _file(tmp_path, "BANK-77"))
    assert (result.rows_inserted, result.rows_duplicate) == (0, 1)
    assert _payments(engine) == [("BANK-77", Decimal("25"))]  # stored without the blank


@pytest.mark.parametrize("again", ["bank-77", " Bank-77", "BANK-77\t"])
def test_recording_a_reference_again_in_another_letter_case_is_refused(
    database_url, engine, tmp_path, again
):
    load_customers(engine, tmp_path)
    assert _record(database_url, "BANK-77").exit_code == 0
    result = _record(database_url, again)
    assert result.exit_code != 0, result.output
    text = " ".join(result.output.split())
    assert "is already recorded" in text and "Traceback" not in result.output
    assert _payments(engine) == [("BANK-77", Decimal("25"))]


def test_an_imported_reference_in_another_case_is_a_duplicate_of_the_book(engine, tmp_path):
    load_customers(engine, tmp_path)
    assert import_file(engine, "payments", _file(tmp_path, "PA-1")).rows_inserted == 1
    result = import_file(engine, "payments", _file(tmp_path, "pa-1"))
    assert (result.rows_inserted, result.rows_duplicate) == (0, 1)
    assert _payments(engine) == [("PA-1", Decimal("25"))]


def test_two_lines_of_one_file_differing_in_case_are_a_bad_row(engine, tmp_path):
    load_customers(engine, tmp_path)
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "payments", _file(tmp_path, "PA-1", "pa-1"))
    [error] = caught.value.errors
    assert (error.line, error.column) == (3, "reference")
    assert "duplicate of line 2" in error.message
    assert _payments(engine) == []


def test_an_imported_reference_is_a_duplicate_of_one_recorded_in_another_case(
    database_url, engine, tmp_path
):
    load_customers(engine, tmp_path)
    assert _record(database_url, "Bank-9").exit_code == 0
    result = import_file(engine, "payments", _file(tmp_path, "BANK-9"))
    assert (result.rows_inserted, result.rows_duplicate) == (0, 1)
    assert _payments(engine) == [("Bank-9", Decimal("25"))]


def test_reversing_finds_the_payment_whatever_the_case_and_blanks(database_url, engine, tmp_path):
    load_customers(engine, tmp_path)
    assert _record(database_url, "BANK-1").exit_code == 0
    result = invoke(
        database_url,
        "payments",
        "reverse",
        " bank-1 ",
        "--reason",
        "bounced",
        "--by",
        "j.doe",
        "--no-execute",
        "--policy",
        str(STANDARD),
    )
    assert result.exit_code == 0, result.output
    assert "payment BANK-1" in " ".join(result.output.split())
    with session_scope(engine) as s:
        payment = s.scalars(select(Payment)).one()
        assert payment.reference == "BANK-1" and payment.reversed_at is not None
