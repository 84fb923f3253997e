"""A reject file never destroys anything: not the database, not the input, not an existing file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.db.engine import make_engine, session_scope
from riskdesk.db.models import Customer, ImportRun, Payment
from riskdesk.errors import EXIT_CODES
from riskdesk.imports import RejectFileError, import_file

T1 = "196e2273-9651-43a3-ba7e-7cbcd918fc40"
runner = CliRunner()

PAYMENTS = (
    "reference,customer,received_on,currency,amount\n"
    f"P1,{T1},2026-02-10,EUR,10\n"
    f"P2,{T1},2026-02-10,EUR,abc\n"
)


def invoke(database_url: str, *args: str):
    return runner.invoke(app, ["--database-url", database_url, *args], catch_exceptions=False)


def _count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _book(engine, tmp_path: Path) -> Path:
    customers = tmp_path / "customers.csv"
    customers.write_text(f"provider_customer_id,name,currency\n{T1},Contoso,EUR\n")
    import_file(engine, "customers", customers)
    payments = tmp_path / "payments.csv"
    payments.write_text(PAYMENTS)
    return payments


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "wal file"])
@pytest.mark.parametrize("force", [False, True])
def test_a_reject_file_that_is_the_database_is_refused_and_the_book_kept(tmp_path, how, force):
    db = tmp_path / "book.db"
    url = f"sqlite:///{db}"
    assert invoke(url, "init").exit_code == 0
    engine = make_engine(url)
    payments = _book(engine, tmp_path)
    target = {
        "same path": db,
        "symlink": tmp_path / "link.csv",
        "hard link": tmp_path / "hard.csv",
        "wal file": tmp_path / "book.db-wal",
    }[how]
    if how == "symlink":
        target.symlink_to(db)
    elif how == "hard link":
        os.link(db, target)
    args = ["import", "payments", str(payments), "--skip-bad-rows", "--reject-file", str(target)]
    result = invoke(url, *args, *(["--force"] if force else []))
    assert result.exit_code == EXIT_CODES["invalid"], result.output
    out = " ".join(result.output.split())
    assert str(target) in out and "nothing was imported" in out
    if how != "wal file" or force:
        assert "database" in out
    assert "Traceback" not in result.output
    # The book is intact: still a database with its customer, and nothing of the file landed.
    assert _count(engine, Customer) == 1
    assert _count(engine, Payment) == 0
    assert _count(engine, ImportRun) == 1  # the customers import only
    engine.dispose()


def test_a_reject_file_that_is_the_input_file_is_refused(engine, tmp_path):
    payments = _book(engine, tmp_path)
    link = tmp_path / "alias.csv"
    link.symlink_to(payments)
    for target in (payments, link):
        with pytest.raises(RejectFileError) as caught:
            import_file(
                engine,
                "payments",
                payments,
                skip_bad_rows=True,
                reject_path=target,
                overwrite_reject_file=True,
            )
        assert str(target) in str(caught.value) and "being imported" in str(caught.value)
    assert payments.read_text() == PAYMENTS
    assert _count(engine, Payment) == 0


def test_an_existing_reject_file_is_replaced_only_when_asked(engine, tmp_path):
    payments = _book(engine, tmp_path)
    default = tmp_path / "payments.csv.rejects.csv"
    default.write_text("keep me\n")
    with pytest.raises(RejectFileError) as caught:
        import_file(engine, "payments", payments, skip_bad_rows=True)
    assert str(default) in str(caught.value) and caught.value.exists
    assert default.read_text() == "keep me\n"
    assert _count(engine, Payment) == 0
    result = import_file(
        engine, "payments", payments, skip_bad_rows=True, overwrite_reject_file=True
    )
    assert (result.rows_inserted, result.rows_rejected, result.reject_path) == (1, 1, default)
    lines = default.read_text().splitlines()
    assert lines[0].endswith(",error") and lines[1].startswith("P2,")


def test_the_command_refuses_an_existing_reject_file_and_says_how_to_replace_it(tmp_path):
    db = tmp_path / "book.db"
    url = f"sqlite:///{db}"
    assert invoke(url, "init").exit_code == 0
    engine = make_engine(url)
    payments = _book(engine, tmp_path)
    target = tmp_path / "bad.csv"
    target.write_text("precious\n")
    args = ["import", "payments", str(payments), "--skip-bad-rows", "--reject-file", str(target)]
    refused = invoke(url, *args)
    assert refused.exit_code == EXIT_CODES["invalid"], refused.output
    out = " ".join(refused.output.split())
    assert str(target) in out and "already exists" in out and "--force" in out
    assert target.read_text() == "precious\n" and _count(engine, Payment) == 0
    forced = invoke(url, *args, "--force")
    assert forced.exit_code == 0, forced.output
    assert target.read_text().startswith("reference,customer")
    assert _count(engine, Payment) == 1
    engine.dispose()


def test_a_reject_file_in_a_missing_directory_is_refused_before_importing(engine, tmp_path):
    payments = _book(engine, tmp_path)
    target = tmp_path / "no" / "such" / "rejects.csv"
    with pytest.raises(RejectFileError) as caught:
        import_file(engine, "payments", payments, skip_bad_rows=True, reject_path=target)
    assert str(target) in str(caught.value)
    assert _count(engine, Payment) == 0
